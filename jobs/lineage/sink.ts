import type { Logger } from 'pino';
import { networkErrorCode, type RetryPolicy, withRetry } from '../../adapters/retry.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { RunEvent } from './openlineage.ts';

/** Where lineage events go. `emit` may throw; the emitter turns failures into warnings. */
export interface LineageSink {
  /** `lake`, `http`, `memory` or `none`: for logs. */
  readonly kind: string;
  emit(event: RunEvent, parentRunId: string): Promise<void>;
}

/** Lake prefix of a CLI run's events: `lineage/run_id=<id>/`. */
export function lineagePrefix(runId?: string): string {
  return runId === undefined ? 'lineage/' : `lineage/run_id=${runId}/`;
}

/**
 * One JSON object per event at `lineage/run_id=<run id>/<seq>.json`: a put is atomic on every store, the keys
 * sort in emission order, and a run's events sit together for the monitor or a later bulk upload to Marquez.
 */
export function lakeLineageSink(lake: () => ObjectStore): LineageSink {
  let seq = 0;
  return {
    kind: 'lake',
    async emit(event, parentRunId) {
      seq += 1;
      const key = `${lineagePrefix(parentRunId)}${String(seq).padStart(6, '0')}.json`;
      await lake().put(key, JSON.stringify(event), { contentType: 'application/json' });
    },
  };
}

/** Keeps events in memory (tests, and the summary of a run). */
export function memoryLineageSink(): LineageSink & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return {
    kind: 'memory',
    events,
    async emit(event) {
      events.push(structuredClone(event));
    },
  };
}

export const NULL_LINEAGE_SINK: LineageSink = { kind: 'none', emit: async () => {} };

export class LineageHttpError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LineageHttpError';
    this.status = status;
  }
}

export interface HttpSinkOptions {
  url: string;
  apiKey?: string | null;
  retry?: RetryPolicy;
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** Where an event goes when the endpoint keeps failing, so it is never lost (the lake sink). */
  fallback?: LineageSink;
}

/** `http://marquez:5000` -> `http://marquez:5000/api/v1/lineage`; a URL with a path is taken as the endpoint. */
export function lineageEndpoint(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/api/v1/lineage';
  return parsed.toString();
}

/**
 * POSTs each event to a Marquez-compatible `/api/v1/lineage`, retrying network errors, 429 and 5xx with backoff.
 * An event the endpoint still refuses goes to the fallback sink (the lake) with a warning: never dropped.
 */
export function httpLineageSink(options: HttpSinkOptions): LineageSink {
  const endpoint = lineageEndpoint(options.url);
  const retry = options.retry ?? { attempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 };
  return {
    kind: 'http',
    async emit(event, parentRunId) {
      try {
        await withRetry(
          async () => {
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
            const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
            const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
            let response: Response;
            try {
              response = await fetch(endpoint, {
                method: 'POST',
                headers,
                body: JSON.stringify(event),
                signal,
              });
            } catch (error) {
              throw new LineageHttpError(`POST ${endpoint} failed: ${(error as Error).message}`, undefined, {
                cause: error,
              });
            }
            const text = await response.text().catch(() => '');
            if (!response.ok) {
              throw new LineageHttpError(
                `POST ${endpoint} answered ${response.status}: ${text.slice(0, 200)}`,
                response.status,
              );
            }
          },
          { ...retry, isRetryable: isRetryableHttp, signal: options.signal },
        );
      } catch (error) {
        if (!options.fallback) throw error;
        options.log?.warn(
          { job: 'lineage', endpoint, error: (error as Error).message },
          'lineage endpoint refused an event; kept in the fallback sink',
        );
        await options.fallback.emit(event, parentRunId);
      }
    },
  };
}

/** Network errors, timeouts, 408, 429 and 5xx are worth another try; other 4xx are not. */
export function isRetryableHttp(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') return status === 408 || status === 429 || status >= 500;
  if (networkErrorCode(error)) return true;
  const cause = (error as { cause?: unknown }).cause;
  return error instanceof LineageHttpError || (cause instanceof Error && cause.name === 'TimeoutError');
}
