#!/usr/bin/env bash
# Start the local test services (PostgreSQL, Kafka, Azurite, S3/moto) on loopback, installing what is missing
# (also Debian's Chromium for the browser tests).
# Usage: bash scripts/services/up.sh      (npm run services:up)   -- see docs/services.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ ! -x "$ROOT/node_modules/.bin/node" ]; then
  echo "[services] $ROOT/node_modules/.bin/node missing: run 'npm install' first" >&2
  exit 1
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
exec node "$ROOT/scripts/services/services.ts" up "$@"
