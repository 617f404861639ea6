/**
 * The young generation's size, capped. Left to itself, V8 grows each isolate's semi-spaces to tens of MB under the
 * jobs' allocation rate (short-lived rows, envelopes, records), and every isolate keeps that much resident. Capped,
 * the scavenger runs more often on a smaller space: validate at scale 20 on 2 threads peaked at 404-416 MB instead of
 * 455-471, the stream-ingest drain at 456-484 MB instead of 561-583 (docs/performance.md, memory). V8 sizes the
 * young generation at three semi-spaces; 8 MB semi-spaces cost no measurable time.
 */
export const SEMI_SPACE_MB = 8;

/** Worker threads (each validation thread, the raw encoder, the stream applier) take the cap as a resource limit. */
export const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 3 * SEMI_SPACE_MB };

/**
 * The job's own thread takes it as a flag V8 reads only at start-up, so it goes in NODE_OPTIONS: the stacks set it
 * (infra/spec.ts) and so does the image (Dockerfile, checked by test/image-files.test.ts).
 */
export const MAIN_THREAD_NODE_FLAGS = `--max-semi-space-size=${SEMI_SPACE_MB}`;
