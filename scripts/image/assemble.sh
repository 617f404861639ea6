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
# Only the runtime rooms (adapters/, jobs/, sql/): test/, bench/, docs/, infra/ and scripts/ never ship. Tests,
# shared test suites, fixtures and test servers stay out too (test/image-files.test.ts lists what ships).
find adapters jobs sql -type f \
  ! -name '*.test.ts' ! -name 'contract.ts' ! -name 'test-fixtures.ts' ! -name 'test-receiver.ts' \
  ! -name 'fault-proxy.ts' ! -name '*.md' \
  -exec cp --parents {} "$target/" \;
# ECOMM_IMAGE_FILES_ONLY=1: the file selection alone, for the test that lists it (no registry, no Docker).
if [[ "${ECOMM_IMAGE_FILES_ONLY:-}" == 1 ]]; then exit 0; fi
cd "$target"
# Runtime packages only (no Pulumi, no test tools), exactly as the lockfile pins them (npm ci fails when
# package.json and the lockfile disagree); no install scripts are needed at runtime.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
