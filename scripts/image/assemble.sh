#!/usr/bin/env bash
# Assembles the job image's /app: package files, the runtime sources (adapters/, jobs/, sql/ without tests) and
# production packages only. The Dockerfile runs this; so does test/container.e2e.test.ts, so the image the tests
# start is the image that ships.
set -euo pipefail
target=${1:?usage: assemble.sh <target folder>}
source_root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$target"
target=$(cd "$target" && pwd)
cd "$source_root"
cp package.json package-lock.json "$target/"
# Tests, shared test suites and fixtures stay out of the image.
find adapters jobs sql -type f \
  ! -name '*.test.ts' ! -name 'contract.ts' ! -name 'test-fixtures.ts' ! -name '*.md' \
  -exec cp --parents {} "$target/" \;
cd "$target"
# Runtime packages only (no Pulumi, no test tools); no install scripts are needed at runtime.
npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
