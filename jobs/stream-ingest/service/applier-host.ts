/**
 * Runs stage 2 (the applier) beside the consumer: in a worker thread with its own connections when the warehouse
 * is a server (validation and CSV work then use a second core instead of slowing the consumer), or in the main
 * thread with the job's own adapters when it is embedded PGlite (one process may open a PGlite folder only once).
 */
import { Worker } from 'node:worker_threads';
import { schemeOf } from '../../../adapters/url.ts';
import { type JobContext, JobStoppedError } from '../../context.ts';
import { WORKER_RESOURCE_LIMITS } from '../../memory-limits.ts';
import { persistWithBackoff } from '../backpressure.ts';
import { type ApplyStats, newApplyStats, runApplier } from './applier.ts';

export interface ApplierHost {
  /** Stage 1 committed a batch: apply it soon. */
  wake(): void;
  /** Finish the round in hand and end; rejects if the applier failed. */
  stop(): Promise<void>;
  /** Settles when the applier ends (it only ends on stop, or on an error). */
  readonly done: Promise<void>;
  stats(): ApplyStats;
}

/** What the worker needs to build its own job context: the same settings and run id. */
export interface ApplierWorkerData {
  env: Record<string, string | undefined>;
  runId: string;
  stopGraceMs: number;
}

export type ApplierMessage =
  | { type: 'stats'; stats: ApplyStats }
  | { type: 'error'; message: string; stopped: boolean }
  | { type: 'done' };

/**
 * Embedded PGlite runs its queries (the ledger's, and the applier's rounds) on the consumer's own thread, where
 * they block kafkajs' heartbeats while they run: seconds on a loaded machine.
 */
export function warehouseOnConsumerThread(context: JobContext): boolean {
  return schemeOf(context.config.WAREHOUSE_URL) === 'pglite';
}

export function startApplier(context: JobContext, stopGraceMs: number): ApplierHost | null {
  if (context.config.STREAM_APPLY === 'off') return null;
  return warehouseOnConsumerThread(context)
    ? startInThread(context, stopGraceMs)
    : startInWorker(context, stopGraceMs);
}

/** A wake-up latch: nextWake resolves at the next wake() or after idleMs, whichever is first. */
export function wakeLatch() {
  let pending = false;
  let release: (() => void) | undefined;
  return {
    wake() {
      pending = true;
      release?.();
    },
    nextWake(idleMs: number): Promise<void> {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, idleMs);
        function done() {
          clearTimeout(timer);
          release = undefined;
          pending = false;
          resolve();
        }
        release = done;
      });
    },
  };
}

function startInThread(context: JobContext, stopGraceMs: number): ApplierHost {
  const stats = newApplyStats();
  const stop = new AbortController();
  const latch = wakeLatch();
  const persist = persistWithBackoff({
    state: stats.backpressure,
    log: context.log.child({ stage: 'apply' }),
    signal: context.signal,
    maxDelayMs: context.config.STREAM_BACKOFF_MAX_MS,
    stopGraceMs,
  });
  const done = runApplier(context, {
    stats,
    persist,
    stop: stop.signal,
    nextWake: (idleMs) => (stop.signal.aborted ? Promise.resolve() : latch.nextWake(idleMs)),
  }).catch((error: unknown) => {
    // Stopped while a write waited for its service: the round stays pending in the ledger, done next start.
    if (error instanceof JobStoppedError) return;
    throw error;
  });
  context.signal.addEventListener('abort', () => stop.abort(), { once: true });
  done.catch(() => {});
  return {
    wake: () => latch.wake(),
    async stop() {
      stop.abort();
      latch.wake();
      await done;
    },
    done,
    stats: () => stats,
  };
}

function startInWorker(context: JobContext, stopGraceMs: number): ApplierHost {
  let stats = newApplyStats();
  const data: ApplierWorkerData = {
    // The settings are the parsed config's (flags included); the rest of the environment is what the adapters read
    // themselves, not settings: cloud credentials (the AWS chain, AZURE_STORAGE_CONNECTION_STRING) and env:// secrets.
    env: { ...process.env, ...configEnv(context) },
    runId: context.runId,
    stopGraceMs,
  };
  const worker = new Worker(new URL('./applier-worker.ts', import.meta.url), {
    workerData: data,
    resourceLimits: WORKER_RESOURCE_LIMITS,
  });
  let failure: Error | undefined;
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: ApplierMessage) => {
      if (message.type === 'stats') stats = message.stats;
      // Stopped while a write waited for its service: the round stays pending in the ledger, done next start.
      if (message.type === 'error' && !message.stopped)
        failure = new Error(`stream applier: ${message.message}`);
    });
    worker.on('error', (error) => {
      failure ??= error;
    });
    worker.on('exit', (code) => {
      if (failure) reject(failure);
      else if (code !== 0) reject(new Error(`stream applier worker exited with code ${code}`));
      else resolve();
    });
  });
  done.catch(() => {});
  // A stop request reaches the worker as a message: it finishes its round (its writes get the same grace).
  const forwardStop = () =>
    worker.postMessage({ type: 'stop', reason: String(context.signal.reason ?? 'stop') });
  context.signal.addEventListener('abort', forwardStop, { once: true });
  return {
    wake: () => worker.postMessage({ type: 'wake' }),
    async stop() {
      context.signal.removeEventListener('abort', forwardStop);
      worker.postMessage({ type: 'finish' });
      await done;
    },
    done,
    stats: () => stats,
  };
}

/** The settings as variables (flags may have overridden the environment): the worker loads the same config. */
function configEnv(context: JobContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(context.config)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      env[key] = String(value);
  }
  return env;
}
