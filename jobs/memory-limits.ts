/**
 * A worker thread's young generation, capped. Left to itself, V8 grows each isolate's semi-spaces to tens of MB
 * under the jobs' allocation rate (short-lived rows, envelopes, records), and every worker (each validation thread,
 * the raw encoder, the stream applier) keeps that much resident. Capped, the scavenger runs more often on a smaller
 * space: validate at scale 20 on 2 threads peaked at 404-416 MB instead of 455-471 (docs/performance.md, memory).
 * V8 sizes the young generation at three semi-spaces; 8 MB semi-spaces cost no measurable time.
 */
export const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 3 * 8 };
