#!/usr/bin/env bash
# Stop the local test services started by up.sh; keeps their data.
# Usage: bash scripts/services/down.sh [--purge]   (npm run services:down [-- --purge])
#   --purge  also delete .services/ (all data, logs and the remembered ports)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ ! -x "$ROOT/node_modules/.bin/node" ]; then
  echo "[services] $ROOT/node_modules/.bin/node missing: run 'npm ci' first" >&2
  exit 1
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
exec node "$ROOT/scripts/services/services.ts" down "$@"
