/**
 * Validation on worker threads: raw batches are independent, and checking their records is CPU work in this
 * process (the lake and the warehouse wait on I/O), so each thread validates one batch at a time from the lake it
 * opens itself (LAKE_URL), while the job's thread keeps the ledger. A batch's outcome, or its failure classified on
 * the thread (the batch's own data, or an outage), comes back as plain data.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CheckOptions } from '../contracts/data-contracts.ts';
import { WORKER_RESOURCE_LIMITS } from '../memory-limits.ts';
import { BatchDataError, type BatchErrorKind } from '../ops/batch-errors.ts';
import type { ValidationOutcome, ValidationTarget } from './outcome.ts';

/** Below this many raw rows in all, starting threads (each loads the job's modules) costs more than it saves. */
export const THREADS_MIN_ROWS = 50_000;
/** Threads when VALIDATE_WORKERS is not set: the machine's cores, at most this many. */
const DEFAULT_MAX_THREADS = 4;

export interface ThreadValidation {
  lakeUrl: string;
  source: string;
  target: ValidationTarget;
  check: CheckOptions;
  piiHashKey: string | undefined;
  replacesQuarantine: boolean;
}

export interface ThreadRequest extends ThreadValidation {
  id: number;
}

export type ThreadReply =
  | { id: number; outcome: Omit<ValidationOutcome, 'reasons'> & { reasons: [string, number][] } }
  | {
      id: number;
      failure: { kind: BatchErrorKind; name: string; message: string; code: string | undefined };
    };

export interface ValidationThreads {
  size: number;
  /** Validates one batch on an idle thread; at most `size` at once. */
  validate(job: ThreadValidation): Promise<ValidationOutcome>;
  close(): Promise<void>;
}

/** How many threads a run gets: VALIDATE_WORKERS, else the cores (at most 4); never more than the batches. */
export function threadCount(setting: number | undefined, batches: number): number {
  return Math.min(setting ?? Math.min(DEFAULT_MAX_THREADS, availableParallelism()), batches);
}

export function startValidationThreads(size: number): ValidationThreads {
  const idle: Worker[] = [];
  const all: Worker[] = [];
  const pending = new Map<
    number,
    { resolve: (outcome: ValidationOutcome) => void; reject: (error: Error) => void }
  >();
  let nextId = 0;
  const failAll = (error: Error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  const spawn = () => {
    const worker = new Worker(new URL('./validate-thread.ts', import.meta.url), {
      resourceLimits: WORKER_RESOURCE_LIMITS,
    });
    worker.on('message', (reply: ThreadReply) => {
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      idle.push(worker);
      if (!waiting) return;
      if ('failure' in reply) waiting.reject(rebuiltError(reply.failure));
      else waiting.resolve({ ...reply.outcome, reasons: new Map(reply.outcome.reasons) });
    });
    worker.on('error', (error) => failAll(new Error(`validation thread failed: ${error.message}`)));
    worker.on('exit', (code) => {
      if (pending.size > 0) failAll(new Error(`validation thread exited (${code}) with a batch in hand`));
    });
    all.push(worker);
    return worker;
  };
  return {
    size,
    validate(job) {
      const worker = idle.pop() ?? (all.length < size ? spawn() : undefined);
      if (!worker) return Promise.reject(new Error(`more than ${size} batches validated at once`));
      const id = nextId++;
      return new Promise<ValidationOutcome>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: ThreadRequest = { id, ...job };
        worker.postMessage(request);
      });
    },
    async close() {
      await Promise.all(all.map((worker) => worker.terminate()));
    },
  };
}

/**
 * The thread's failure as this thread's error: the batch's own data stays a BatchDataError (the batch is set aside),
 * anything else keeps its name and code, and counts as an outage as before.
 */
function rebuiltError(failure: Extract<ThreadReply, { failure: unknown }>['failure']): Error {
  if (failure.kind === 'data') return new BatchDataError(failure.message);
  const error = new Error(failure.message);
  error.name = failure.name;
  return failure.code === undefined ? error : Object.assign(error, { code: failure.code });
}
