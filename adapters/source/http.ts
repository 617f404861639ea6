/**
 * What the HTTP API sources (fx-http.ts, hubspot.ts) share: the checks every such URL gets, the timeout and retry
 * settings it may tune, which failed requests are worth another try and how long to wait, and a deadline per
 * request. One place, so a fix to any of them (a Retry-After form, a hung socket) reaches every HTTP source.
 */
import http from 'node:http';
import https from 'node:https';
import { redactUrl } from '../redact.ts';
import { networkErrorCode, withRetry } from '../retry.ts';
import { integerParameter } from '../url.ts';

/** How long one request may take and how a failed one is retried, as the URL tunes them. */
export interface HttpSettings {
  timeoutMs: number;
  attempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

const HTTP_PARAMETERS: readonly string[] = ['timeoutMs', 'attempts', 'retryBaseMs', 'retryMaxMs'];

/**
 * The defaults ride out about a minute of a vendor's outage or throttling (6 attempts, waits doubling from 1 s to
 * at most 30 s) and then fail, leaving a longer one to the scheduler's next run.
 */
export function httpSettings(setting: string, params: URLSearchParams): HttpSettings {
  return {
    timeoutMs: integerParameter(setting, params, 'timeoutMs', 30_000, 1, 600_000),
    attempts: integerParameter(setting, params, 'attempts', 6, 1, 20),
    retryBaseMs: integerParameter(setting, params, 'retryBaseMs', 1_000, 0, 600_000),
    retryMaxMs: integerParameter(setting, params, 'retryMaxMs', 30_000, 0, 600_000),
  };
}

/** How one HTTP source's URL is checked; the words go into its error messages. */
export interface HttpSourceUrlForm {
  /** Without `://` (`hubspot`). */
  scheme: string;
  /** A host (and path) to show when the URL names none (`api.hubapi.com`). */
  exampleHost: string;
  /** What the secret is, in messages (`token`, `API key`). */
  credential: string;
  /** The parameter naming the credential's secret (`tokenSecret`). */
  secretParameter: string;
  /**
   * The source's own parameters. With the secret's, `tls` and the HttpSettings ones they are all a URL may hold:
   * a misspelt one fails rather than being silently ignored.
   */
  parameters: readonly string[];
}

export interface HttpSourceUrl {
  /** The URL with anything secret-like masked: the only form of it a message may show. */
  display: string;
  parsed: URL;
  /** The name of the credential's secret in the secret store. */
  secretName: string;
}

/** The URL's scheme, host, parameters and secret name, checked; the credential itself never rides in a URL. */
export function parseHttpSourceUrl(url: string, setting: string, form: HttpSourceUrlForm): HttpSourceUrl {
  const display = redactUrl(url);
  if (!URL.canParse(url)) throw new Error(`${setting}: cannot parse "${display}" as a URL`);
  const parsed = new URL(url);
  if (parsed.protocol !== `${form.scheme}:`)
    throw new Error(`${setting}: "${display}" is not a ${form.scheme}:// URL`);
  if (parsed.hostname === '')
    throw new Error(`${setting}: "${display}" names no host (${form.scheme}://${form.exampleHost})`);
  if (parsed.username !== '' || parsed.password !== '')
    throw new Error(
      `${setting}: put the ${form.credential} in the secret store and name it with ${form.secretParameter}=<name>`,
    );
  const known = [form.secretParameter, 'tls', ...HTTP_PARAMETERS, ...form.parameters];
  const unknown = [...parsed.searchParams.keys()].filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new Error(`${setting}: unknown URL parameter(s) ${unknown.join(', ')} in "${display}"`);
  const secretName = parsed.searchParams.get(form.secretParameter);
  if (!secretName) throw new Error(`${setting}: "${display}" needs ${form.secretParameter}=<secret name>`);
  return { display, parsed, secretName };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i;

/**
 * `https://host[:port]`, or `http://` with `tls=false`: the credential would travel in clear, so only to a
 * loopback test server.
 */
export function originOf(setting: string, parsed: URL): { tls: boolean; origin: string } {
  const tls = parsed.searchParams.get('tls') ?? 'true';
  if (tls !== 'true' && tls !== 'false') throw new Error(`${setting}: tls must be true or false`);
  if (tls === 'false' && !LOOPBACK.test(parsed.hostname))
    throw new Error(`${setting}: tls=false is only for a loopback test server, not ${parsed.hostname}`);
  return { tls: tls === 'true', origin: `${tls === 'false' ? 'http' : 'https'}://${parsed.host}` };
}

/** A Retry-After longer than this is a daily or monthly quota, not a burst: fail now, the scheduler tries later. */
export const MAX_RETRY_AFTER_MS = 120_000;

/**
 * The wait a Retry-After header asks for, in ms. RFC 9110 allows delay-seconds or an HTTP date; a date already
 * past means now. Undefined when there is none or it cannot be read, so the backoff applies instead.
 */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (header === null || header === undefined || header === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Whether a failed request may succeed when sent again: a 429 asking for a short wait, a 5xx, or no answer at all
 * (a network error, a timeout). Any other status is the request's own fault and would fail the same way.
 */
export function isRetryable(
  status: number | undefined,
  retryAfter: number | undefined,
  error: unknown,
): boolean {
  if (status === 429) return (retryAfter ?? 0) <= MAX_RETRY_AFTER_MS;
  if (status !== undefined) return status >= 500 && status <= 599;
  return networkErrorCode(error) !== undefined;
}

/** How one source reads its failures: a fetch answer and an SDK error keep the status in different places. */
export interface HttpRetry {
  /** Names the request in retry messages (`HubSpot search of contacts`). */
  what: string;
  statusOf(error: unknown): number | undefined;
  retryAfterMsOf(error: unknown): number | undefined;
  /** The error the caller sees after the last attempt; it must word the failure without the credential. */
  describe(error: unknown, attempts: number): unknown;
  /** Told before each wait. The message holds only the status or network code: no body or header, so no secret. */
  onRetry?: ((message: string) => void) | undefined;
}

/** Sends `request` until it succeeds, fails for good or has used its attempts, waiting what Retry-After asks. */
export function withHttpRetry<T>(
  request: () => Promise<T>,
  settings: HttpSettings,
  retry: HttpRetry,
): Promise<T> {
  return withRetry(request, {
    attempts: settings.attempts,
    baseDelayMs: settings.retryBaseMs,
    maxDelayMs: settings.retryMaxMs,
    isRetryable: (error) => isRetryable(retry.statusOf(error), retry.retryAfterMsOf(error), error),
    retryAfterMs: (error) => retry.retryAfterMsOf(error),
    describe: (error, attempts) => retry.describe(error, attempts),
    onRetry: (error, attempt, delayMs) =>
      retry.onRetry?.(
        `${retry.what}: ${retry.statusOf(error) ?? networkErrorCode(error) ?? 'error'} on attempt ${attempt}, retrying in ${delayMs} ms`,
      ),
  });
}

/** Coded as the OS codes a connection that timed out, so isRetryable and the messages treat it as one. */
function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no answer within ${ms} ms (timeoutMs)`), { code: 'ETIMEDOUT' });
}

/**
 * fetch whose answer must come within `ms`, else it fails as ETIMEDOUT. The same signal still bounds the caller's
 * read of the body, which then fails as the signal's TimeoutError (no network code, so not retried).
 */
export async function fetchWithin(ms: number, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
  } catch (error) {
    if ((error as Error | undefined)?.name === 'TimeoutError') throw timeoutError(ms);
    throw error;
  }
}

/** The work's answer, or ETIMEDOUT after `ms` in all: for a client that takes no signal. */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError(ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // An abandoned attempt still fails later (its socket times out): not an unhandled rejection.
    work.catch(() => undefined);
  }
}

/**
 * A keep-alive agent whose sockets are destroyed after `ms` without a byte either way. A client that gives its
 * requests no signal or timeout (the HubSpot SDK's node-fetch) can end a hung request only this way rather than
 * leave its socket open; the request then fails with the socket's error (ETIMEDOUT). withDeadline bounds the
 * whole request, this a silence: an abandoned attempt's socket is freed too.
 */
export function timeoutAgent(tls: boolean, ms: number): http.Agent {
  const agent = tls
    ? new https.Agent({ keepAlive: true, timeout: ms })
    : new http.Agent({ keepAlive: true, timeout: ms });
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = create(options, callback);
    // An idle pooled socket is destroyed the same way by the agent itself; one serving a request needs this.
    socket?.on('timeout', () => socket.destroy(timeoutError(ms)));
    return socket;
  };
  return agent;
}
