/**
 * Backpressure for the stream service: a write to an unavailable lake or warehouse is retried with backoff (doubling,
 * capped at STREAM_BACKOFF_MAX_MS) for as long as the service runs, so the work in hand waits (and with it the
 * partition: nothing after it is fetched, nothing is committed) instead of failing or skipping. A stop request
 * leaves the writes in hand a short grace to succeed; after it they give up with JobStoppedError, and the unit
 * they belong to is simply not committed (it is read again by the next consumer).
 */
import type { Logger } from 'pino';
import { withRetry } from '../../adapters/retry.ts';
import { ConfigError } from '../config.ts';
import { JobStoppedError } from '../context.ts';

/** What the health endpoint reports about one stage's retries. */
export interface BackpressureState {
  /** Some write of this stage is waiting for its service to come back. */
  active: boolean;
  since: string | null;
  /** Retries so far (all writes). */
  retries: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

export function newBackpressureState(): BackpressureState {
  return { active: false, since: null, retries: 0, lastError: null, lastErrorAt: null };
}

/** Runs one write until it succeeds; `what` names the service in logs and /status ("lake", "warehouse"). */
export type Persist = <T>(what: string, write: () => Promise<T>) => Promise<T>;

export interface PersistOptions {
  state: BackpressureState;
  log: Logger;
  /** Aborted when the service is asked to stop. */
  signal: AbortSignal;
  maxDelayMs: number;
  /** How long writes in hand keep trying after a stop request. */
  stopGraceMs: number;
  baseDelayMs?: number;
}

export function persistWithBackoff(options: PersistOptions): Persist {
  const { state, log } = options;
  const giveUp = graceAfter(options.signal, options.stopGraceMs);
  let waiting = 0;
  return async <T>(what: string, write: () => Promise<T>): Promise<T> => {
    let retried = false;
    try {
      return await withRetry(write, {
        attempts: Number.POSITIVE_INFINITY,
        baseDelayMs: Math.min(options.baseDelayMs ?? 200, options.maxDelayMs),
        maxDelayMs: options.maxDelayMs,
        // Waiting heals an outage, never a configuration error (a missing secret): that one stops the service.
        isRetryable: (error) => !(error instanceof ConfigError),
        signal: giveUp,
        onRetry(error, attempt, delayMs) {
          if (!retried) {
            retried = true;
            waiting += 1;
          }
          const now = new Date().toISOString();
          state.active = true;
          state.since ??= now;
          state.retries += 1;
          state.lastError = `${what}: ${(error as Error)?.message ?? String(error)}`.slice(0, 1000);
          state.lastErrorAt = now;
          log.warn(
            { what, attempt, delayMs, error: state.lastError },
            'backpressure: write failed, retrying',
          );
        },
      });
    } catch (error) {
      if (giveUp.aborted)
        throw new JobStoppedError(`${String(options.signal.reason ?? 'stop')}; ${what} still unavailable`);
      throw error;
    } finally {
      if (retried) {
        waiting -= 1;
        if (waiting === 0) {
          state.active = false;
          state.since = null;
        }
      }
    }
  };
}

/** Writes without retries: the drain job fails fast and its scheduler reruns it (every step is idempotent). */
export const persistOnce: Persist = (_what, write) => write();

/** A signal that aborts `graceMs` after `signal` does. */
function graceAfter(signal: AbortSignal, graceMs: number): AbortSignal {
  const controller = new AbortController();
  const start = () => {
    setTimeout(() => controller.abort(signal.reason), graceMs).unref();
  };
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return controller.signal;
}
