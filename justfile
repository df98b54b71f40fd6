# WUZAPI Manager backend. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Binaries `up` runs, built once. The fake WUZAPI server is behind wuzapi's `fake` feature
# (production builds leave it out); `up` needs it.
bins := "-p gateway -p worker-campaign -p worker-import -p worker-report -p worker-notification -p worker-webhook -p worker-inbound -p migration -p wuzapi --features wuzapi/fake"

default:
    @just --list

# Start PostgreSQL, Redis and RabbitMQ where they are not answering (idempotent).
services:
    bash scripts/services.sh

# Apply database migrations (creates the database if missing).
migrate: services
    cargo run -q -p migration --bin migrate -- up

# Run the whole system locally: services, migrations, the web app's build, fake WUZAPI, gateway (API and web app at /), and the six workers. Ctrl-C stops all.
# When one process exits on its own, says which (name, pid, exit status) and stops the others.
up: services
    #!/usr/bin/env bash
    set -euo pipefail
    # The web app the gateway serves at /, rebuilt when its sources changed.
    bash scripts/web.sh build
    cargo build {{bins}}
    ./target/debug/migrate up
    # A local system: without SECRETS_KEY, inbox tokens use the published development key.
    if [ -z "${SECRETS_KEY:-}${INBOX_TOKEN_KEY:-}" ]; then export DEV_MODE="${DEV_MODE:-true}"; fi
    pids=()
    names=()
    stopping=0
    cleanup() {
        [ "$stopping" = 1 ] && return
        stopping=1
        kill "${pids[@]}" 2>/dev/null || true
        wait || true
        echo "stopped"
    }
    trap 'cleanup; exit 0' INT TERM
    trap cleanup EXIT
    # start NAME COMMAND...: runs COMMAND in the background, remembering its name and pid.
    start() {
        local name=$1
        shift
        "$@" &
        pids+=($!)
        names+=("$name")
    }
    # Whether a process is no longer running; if so sets `gone` to its index and `status` to
    # its exit status. (Polled with `kill -0`, then `wait PID` for the status: `wait -n` skips
    # a process that ended before it was called, so a gateway failing at start went unnoticed.)
    ended() {
        local i
        for i in "${!pids[@]}"; do
            if ! kill -0 "${pids[$i]}" 2>/dev/null; then
                gone=$i
                status=0
                wait "${pids[$i]}" 2>/dev/null || status=$?
                return 0
            fi
        done
        return 1
    }
    start fake-wuzapi env FAKE_WUZAPI_ADDR="${FAKE_WUZAPI_ADDR:-127.0.0.1:8080}" ./target/debug/fake-wuzapi
    start gateway ./target/debug/gateway serve
    start worker-campaign ./target/debug/worker-campaign
    # Its own probe port next to the campaign worker's (9101).
    start worker-import env WORKER_HTTP_PORT="${WORKER_IMPORT_HTTP_PORT:-9102}" ./target/debug/worker-import
    start worker-report env WORKER_HTTP_PORT="${WORKER_REPORT_HTTP_PORT:-9103}" ./target/debug/worker-report
    start worker-notification env WORKER_HTTP_PORT="${WORKER_NOTIFICATION_HTTP_PORT:-9104}" ./target/debug/worker-notification
    start worker-webhook env WORKER_HTTP_PORT="${WORKER_WEBHOOK_HTTP_PORT:-9105}" ./target/debug/worker-webhook
    start worker-inbound env WORKER_HTTP_PORT="${WORKER_INBOUND_HTTP_PORT:-9106}" ./target/debug/worker-inbound
    port="${PORT:-3000}"
    gone=""
    status=0
    for _ in $(seq 1 50); do
        if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
            echo
            echo "WUZAPI Manager is up: http://127.0.0.1:$port  (fake WUZAPI: http://${FAKE_WUZAPI_ADDR:-127.0.0.1:8080})"
            echo "Get a superadmin API key:  just superadmin you@example.com"
            echo "Walk-through:              README.md, 'A campaign from nothing'"
            echo "Ctrl-C stops everything."
            break
        fi
        if ended; then break; fi
        sleep 0.2
    done
    until [ -n "$gone" ] || ended; do sleep 0.5; done
    if [ "$status" -gt 128 ]; then
        how="was killed by SIG$(kill -l $((status - 128)) 2>/dev/null || echo "$((status - 128))")"
    else
        how="exited with status $status"
    fi
    echo >&2
    echo "just up: ${names[$gone]} (pid ${pids[$gone]}) $how; stopping the others" >&2
    exit 1

# Print a new API key for a superadmin (created if missing).
superadmin email: migrate
    DEV_MODE="${DEV_MODE:-true}" cargo run -q -p gateway -- bootstrap-superadmin --email {{email}}

# Everything the test suite needs, then the suite (real Postgres, Redis and RabbitMQ).
test: services
    #!/usr/bin/env bash
    set -euo pipefail
    # The API fuzzer the system tests run (Python, pinned).
    python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet -r tests/system/fuzz/requirements.txt
    # The web app: API types in step with the document, type check, component tests, build,
    # bundle budget.
    bash scripts/web.sh check
    # The end-to-end tests' browser (Debian's chromium, installed when missing).
    bash scripts/web.sh browser
    # Doc tests first: the suite's own summary should be the last thing printed.
    cargo test --workspace --doc -q
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --no-fail-fast
    else
        cargo test --workspace --no-fail-fast --lib --bins --tests
    fi

# Formatting, clippy with warnings as errors, no unused dependencies, the dependency rules
# between crates and services, every environment variable both read and documented, the
# deploy manifests, and every SQL statement prepared against the migrated schema (sql-check:
# a database of its own on TEST_DATABASE_URL's server, dropped at the end).
lint: services
    cargo fmt --all -- --check
    python3 scripts/check-deps.py
    python3 scripts/check-env.py
    cargo clippy --workspace --all-targets -- -D warnings
    @cargo machete --version >/dev/null 2>&1 || { echo "cargo-machete is missing: cargo install cargo-machete --locked" >&2; exit 1; }
    cargo machete
    bash deploy/validate.sh
    cargo run -q -p sql-check

# Fuzz the API longer than the suite does, with a fresh seed: FUZZ_EXAMPLES per operation.
fuzz examples="200": services
    python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install --quiet -r tests/system/fuzz/requirements.txt
    FUZZ_EXAMPLES={{examples}} FUZZ_SEED=$RANDOM cargo nextest run -p system-tests -E 'test(/the_fuzzer/)' --no-capture

# Build the web app (web/dist) when its sources changed; the gateway serves it at /.
web:
    bash scripts/web.sh build

# Format the code.
fmt:
    cargo fmt --all

# Throughput benchmarks (release build), each figure with a baseline from the same run.
bench: services
    cargo build --release -q -p worker-campaign --bin worker-campaign -p worker-import --bin worker-import -p worker-report --bin worker-report -p worker-webhook --bin worker-webhook -p worker-inbound --bin worker-inbound
    cargo build --release -q -p system-tests --bin bench --bin bench_cache --bin bench_http --bin bench_import --bin bench_report --bin bench_webhook --bin bench_inbound --bin bench_web
    command -v wrk > /dev/null || sudo apt-get install -y wrk || apt-get install -y wrk
    bash scripts/web.sh browser
    RUST_LOG=warn ./target/release/bench
    RUST_LOG=warn ./target/release/bench_cache
    RUST_LOG=warn ./target/release/bench_http
    RUST_LOG=warn ./target/release/bench_import
    RUST_LOG=warn ./target/release/bench_report
    RUST_LOG=warn ./target/release/bench_webhook
    RUST_LOG=warn ./target/release/bench_inbound
    RUST_LOG=warn ./target/release/bench_web
