# syntax=docker/dockerfile:1.7
# One image for every job: `docker run <image> <job>` runs `ecomm <job>` (README: Jobs, Exit codes).
# TypeScript runs as-is on Node 24 (type stripping): the image is the runtime sources plus production packages.

# Base images pinned by digest (a tag can be re-pointed; a digest cannot). The digest of node:24-slim's multi-arch
# index was taken from public Dockerfiles pinning it (it could not be pulled here to check); refresh it with
# `docker buildx imagetools inspect node:24-slim` (the "Digest:" line) and update both stages together.
FROM node:24-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS build
WORKDIR /src
COPY . .
# The same script the container test runs: what ships is what was tested.
RUN bash scripts/image/assemble.sh /app && npm cache clean --force

FROM node:24-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df AS runtime
# NODE_OPTIONS: the young generation's cap and a collection between run steps; MALLOC_MMAP_THRESHOLD_: large
# buffers handed back when freed (jobs/memory-limits.ts); the stacks set both too, with the heap's cap.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=8 --expose-gc" \
    MALLOC_MMAP_THRESHOLD_=131072 \
    ECOMM_REQUIRE_SETTINGS=true \
    ECOMM_HEALTH_PORT=8080 \
    ECOMM_HEALTH_HOST=0.0.0.0
WORKDIR /app
# Code is root-owned and read-only to the job; the job runs unprivileged.
COPY --from=build --chown=root:root /app /app
USER node
# The stream service (`ecomm stream-ingest --follow`) answers on ECOMM_HEALTH_PORT; jobs/healthcheck.ts reports
# healthy for batch jobs, which serve nothing and exit on their own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/jobs/healthcheck.ts"]
ENTRYPOINT ["node", "/app/jobs/cli.ts"]
CMD ["--help"]
