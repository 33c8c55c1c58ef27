#!/bin/sh
# Production start: migrate, then serve with WEB_CONCURRENCY uvicorn workers.
# What the backend container runs, and what CI's production smoke test runs without containers.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

# Several workers aggregate their metrics through files in one folder, emptied at each start.
if [ "${WEB_CONCURRENCY:-1}" -gt 1 ] && [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  PROMETHEUS_MULTIPROC_DIR="$(mktemp -d -t chat-metrics.XXXXXX)"
  export PROMETHEUS_MULTIPROC_DIR
fi
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -name '*.db' -delete
fi

"$PYTHON" -m alembic upgrade head
exec "$PYTHON" -m app
