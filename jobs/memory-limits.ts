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
 * (infra/spec.ts) and so does the image (Dockerfile, checked by test/image-files.test.ts). `--expose-gc` lets `ecomm
 * run` collect between its steps (collectBetweenSteps).
 */
export const MAIN_THREAD_NODE_FLAGS = `--max-semi-space-size=${SEMI_SPACE_MB} --expose-gc`;

/**
 * A full collection between two steps of one process (`ecomm run`). A step's garbage (the drain's fetched Kafka
 * batches, its clients) is collected only when the heap next grows enough, and the steps after it allocate on
 * their own threads (validate) or little at all (load, transform): at scale 100 the drain's leftovers were still
 * resident when validate's threads started, and `ecomm run` peaked 120 MiB above validate alone. A no-op without
 * `--expose-gc` (MAIN_THREAD_NODE_FLAGS).
 */
export function collectBetweenSteps(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * glibc's malloc serves large allocations from its heap once a buffer that size has been freed (its mmap threshold
 * rises with every such free, up to 32 MB), and what is freed there stays with the process. The jobs free large
 * buffers all the time (Kafka fetch responses, raw objects, staged chunks): with the threshold fixed at 128 KiB,
 * every buffer from that size is mapped on its own and handed back when freed. At scale 100, alternated: validate
 * alone 399-415 MiB against 432-452 MiB, `ecomm run` 538 against 567 MiB, CPU within the machine's noise. The image
 * (Dockerfile) and both stacks (infra/spec.ts) set it, and the benchmarks' job processes (bench/harness.ts).
 */
export const MALLOC_ENVIRONMENT = { MALLOC_MMAP_THRESHOLD_: '131072' } as const;
