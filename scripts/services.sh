#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer on their local ports, starting each one that
# does not. Idempotent: a service that already answers is left alone. Used by `just` and `.ci/run`.
set -euo pipefail

say() { printf 'services: %s\n' "$*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "$1 is not installed. On Debian: apt-get install -y $2"
  exit 1
}

postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
rabbit_up() { rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

wait_for() { # name check seconds
  local name=$1 check=$2 seconds=$3
  for _ in $(seq 1 "$seconds"); do
    if $check; then say "$name answers"; return 0; fi
    sleep 1
  done
  say "$name did not answer within ${seconds}s"
  return 1
}

need pg_isready postgresql-client
if ! postgres_up; then
  need pg_ctlcluster postgresql
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  wait_for PostgreSQL postgres_up 30
fi

need redis-cli redis-tools
if ! redis_up; then
  need redis-server redis-server
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis_up 30
fi

need rabbitmq-diagnostics rabbitmq-server
if ! rabbit_up; then
  say "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_for RabbitMQ rabbit_up 120
fi
