#!/bin/sh
# Container start: a clean Prometheus multiprocess directory, migrations, then the command.
# Set FINTALK_SKIP_MIGRATE=1 to run migrations as a one-off job instead.
set -e
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
if [ "${FINTALK_SKIP_MIGRATE:-0}" != "1" ]; then
  python manage.py migrate --noinput
fi
exec "$@"
