/**
 * `ecomm generate` in a worker thread with a heap of bounded size (worker.ts runs it): its own job context, with its
 * own connections, from the same settings and run id. The generator holds little (store-stream.ts), but V8 sizes a
 * process's heap from the machine's memory, not from what lives in it: on a large machine the main thread's young
 * generation alone grows to 128 MB and its old generation to several times what lives there (the CLI's modules
 * included), so a long run would reach twice the generator's need. A worker's heap limits keep it to that need.
 */
import { Worker } from 'node:worker_threads';
import { schemeOf } from '../../adapters/url.ts';
import type { JobContext } from '../context.ts';
import type { GenerateJobOptions } from './generate.ts';
import type { GenerateResult } from './types.ts';

/** The worker's heap: room for what the generator holds at any scale, and no more. */
const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 48, maxOldGenerationSizeMb: 256 };

/** What the worker generates with: the settings as variables, the run id and the job's options. */
export interface GenerateWorkerData {
  env: Record<string, string | undefined>;
  runId: string;
  job: Omit<GenerateJobOptions, 'db' | 'stream'>;
}

export type GenerateWorkerReply =
  | { type: 'done'; result: GenerateResult }
  | { type: 'error'; message: string };

/**
 * Servers only: an embedded source or stream stays on the main thread (one process may open a PGlite folder only
 * once, and the embedded stream's log is the process's), at the scales a laptop demo uses.
 */
export function generatesInWorker(context: JobContext): boolean {
  return schemeOf(context.config.SOURCE_URL) !== 'pglite' && schemeOf(context.config.STREAM_URL) !== 'memory';
}

export function generateInWorker(
  context: JobContext,
  job: GenerateWorkerData['job'],
): Promise<GenerateResult> {
  const data: GenerateWorkerData = {
    env: { ...process.env, ...configEnv(context) },
    runId: context.runId,
    job,
  };
  const worker = new Worker(new URL('./worker.ts', import.meta.url), {
    workerData: data,
    resourceLimits: WORKER_HEAP_LIMITS,
  });
  return new Promise((resolve, reject) => {
    let reply: GenerateWorkerReply | undefined;
    worker.on('message', (message: GenerateWorkerReply) => {
      reply = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (reply?.type === 'done') resolve(reply.result);
      else
        reject(
          new Error(reply?.type === 'error' ? reply.message : `generate worker exited with code ${code}`),
        );
    });
  });
}

/**
 * The settings as variables (flags may have overridden the environment), as the stream service's applier passes
 * them: the worker loads the same config. The rest of the environment is what the adapters read themselves.
 */
function configEnv(context: JobContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(context.config)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      env[key] = String(value);
  }
  return env;
}
