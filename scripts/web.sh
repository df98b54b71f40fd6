#!/usr/bin/env bash
# The web app (web/): its dependencies, build and checks. Used by `just up`, `just web` and
# `just test`.
#   scripts/web.sh build   build web/dist when a source is newer than the last build
#   scripts/web.sh check   the API types, type check, component tests, build and bundle budget
#   scripts/web.sh browser what the end-to-end tests need: the build, and Debian's chromium
#                          (installed with apt when missing; CHROMIUM names another browser)
set -euo pipefail
cd "$(dirname "$0")/../web"

say() { printf 'web: %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  say "npm is missing: install Node.js 20.19 or newer (Debian: apt-get install -y nodejs npm)"
  exit 1
fi

# Installs node_modules from the lock file when it is missing or older than the lock.
dependencies() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Whether some source is newer than the last build (or there is none).
out_of_date() {
  [ -f dist/index.html ] || return 0
  [ -n "$(find src public index.html package-lock.json vite.config.ts scripts/compress.mjs \
    -newer dist/index.html -print -quit)" ]
}

# Builds web/dist when it is out of date.
build() {
  if out_of_date; then
    dependencies
    say "building web/dist"
    npm run --silent build
  else
    say "web/dist is up to date"
  fi
}

# The browser playwright-core drives (it downloads none of its own).
chromium() {
  local browser="${CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$browser" ]; then
    return
  fi
  if [ -n "${CHROMIUM:-}" ]; then
    say "CHROMIUM=$CHROMIUM is not an executable"
    exit 1
  fi
  say "installing Debian's chromium (apt-get)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq chromium >/dev/null ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null; }
}

case "${1:-}" in
  build)
    build
    ;;
  browser)
    dependencies
    build
    chromium
    ;;
  check)
    dependencies
    npm run --silent ci
    ;;
  *)
    echo "usage: scripts/web.sh build|check|browser" >&2
    exit 2
    ;;
esac
