import { setTimeout as sleepFor } from 'node:timers/promises';

/** How many times to try and how long to wait in between: the knobs a backend exposes in its URL. */
export interface RetryPolicy {
  /** Total tries, the first one included (1 means no retry). */
  attempts: number;
  /** Wait before the second try; each later wait doubles, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RetryOptions extends RetryPolicy {
  /** Transient failures (network errors, 5xx, throttling) are worth another try; a 4xx or bad credentials are not. */
  isRetryable(error: unknown): boolean;
  /**
   * Turns the last error into the one the caller sees, knowing how many tries were made (1 when the error was not
   * retryable). Without it the last error is rethrown as is.
   */
  describe?(error: unknown, attempts: number): unknown;
  /**
   * The wait a failure itself asks for (an HTTP 429's Retry-After), used instead of the backoff before the next
   * try; undefined keeps the backoff. The server knows when its limit resets; guessing shorter only fails again.
   */
  retryAfterMs?(error: unknown): number | undefined;
  /** Called before each wait, for logging. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  /** Stops waiting and retrying: the abort reason is thrown. */
  signal?: AbortSignal;
  /** For tests. */
  sleep?(ms: number): Promise<void>;
}

/**
 * Runs fn until it succeeds, fails with an error isRetryable rejects, or has been tried `attempts` times, waiting
 * an exponentially growing, jittered delay between tries. Bounded on purpose: a job that cannot reach a service
 * should fail with a clear error in seconds, and let its scheduler retry the whole step (jobs are idempotent).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms, undefined, { signal: options.signal }));
  for (let attempt = 1; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      options.signal?.throwIfAborted();
      if (!options.isRetryable(error) || attempt >= attempts)
        throw options.describe ? options.describe(error, attempt) : error;
      const delayMs = options.retryAfterMs?.(error) ?? backoffDelay(attempt, options);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs).catch((failure: unknown) => {
        options.signal?.throwIfAborted();
        throw failure;
      });
    }
  }
}

/**
 * The wait after the given failed attempt (1-based): half of min(maxDelayMs, baseDelayMs * 2^(attempt-1)) plus a
 * random part up to the other half. The jitter spreads retries of many workers hit by the same outage; the fixed
 * half keeps the backoff real.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Node's codes for a connection that failed or dropped: worth another try. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The network code of an error or of its cause (`ECONNREFUSED`), if any. */
export function networkErrorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Object && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
