// The HTTP plumbing of the HTTP API sources, without a vendor: a local server that never answers stands in for a
// hung one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fetchWithin,
  httpSettings,
  isRetryable,
  MAX_RETRY_AFTER_MS,
  originOf,
  parseHttpSourceUrl,
  retryAfterMs,
  timeoutAgent,
  withDeadline,
  withHttpRetry,
} from './http.ts';

const networkError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('retryAfterMs', () => {
  it('reads delay-seconds as ms', () => {
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs('0')).toBe(0);
    expect(retryAfterMs('1.5')).toBe(1_500);
  });

  it('reads an HTTP date as the wait until it, and a date already past as no wait', () => {
    const now = Date.parse('2015-10-21T07:27:30Z');
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
  });

  it('is undefined without a readable header, so the backoff applies', () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('')).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('retries a 429 whose wait is a burst, not one that asks past MAX_RETRY_AFTER_MS (a quota)', () => {
    expect(isRetryable(429, undefined, new Error('429'))).toBe(true);
    expect(isRetryable(429, MAX_RETRY_AFTER_MS, new Error('429'))).toBe(true);
    expect(isRetryable(429, MAX_RETRY_AFTER_MS + 1, new Error('429'))).toBe(false);
  });

  it('retries every 5xx and no other status, whatever the error carries', () => {
    for (const status of [500, 502, 503, 504, 599]) expect(isRetryable(status, undefined, null)).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 600])
      expect(isRetryable(status, undefined, networkError('ECONNRESET'))).toBe(false);
  });

  it('retries a request with no answer only when it failed on the network (a network code on the error or its cause)', () => {
    expect(isRetryable(undefined, undefined, networkError('ECONNRESET'))).toBe(true);
    expect(
      isRetryable(undefined, undefined, new Error('fetch failed', { cause: networkError('ENOTFOUND') })),
    ).toBe(true);
    expect(isRetryable(undefined, undefined, new Error('Unexpected token < in JSON'))).toBe(false);
  });
});

describe('withHttpRetry', () => {
  const settings = { timeoutMs: 1_000, attempts: 3, retryBaseMs: 0, retryMaxMs: 0 };
  const answer = (status: number, retryAfter?: number) =>
    Object.assign(new Error('no'), { status, retryAfter });
  const reading = {
    statusOf: (error: unknown) => (error as { status?: number }).status,
    retryAfterMsOf: (error: unknown) => (error as { retryAfter?: number }).retryAfter,
  };

  it('retries a 503 and a network error, waits what Retry-After asks, and says so without more than the code', async () => {
    const messages: string[] = [];
    const failures = [answer(429, 5), answer(503), networkError('ECONNRESET')];
    let calls = 0;
    const result = await withHttpRetry(
      async () => {
        calls += 1;
        const failure = failures[calls - 1];
        if (failure && calls < 3) throw failure;
        return 'rates';
      },
      settings,
      {
        what: 'FX read of 2026-03-02',
        ...reading,
        describe: (error) => error,
        onRetry: (m) => messages.push(m),
      },
    );
    expect(result).toBe('rates');
    expect(messages).toEqual([
      'FX read of 2026-03-02: 429 on attempt 1, retrying in 5 ms',
      'FX read of 2026-03-02: 503 on attempt 2, retrying in 0 ms',
    ]);
  });

  it('gives up after its attempts, and at once on a 4xx, with the error describe words', async () => {
    const attemptsSeen: number[] = [];
    const describe = (error: unknown, attempts: number) => {
      attemptsSeen.push(attempts);
      return new Error(`failed after ${attempts}: HTTP ${(error as { status: number }).status}`);
    };
    await expect(
      withHttpRetry(() => Promise.reject(answer(502)), settings, { what: 'x', ...reading, describe }),
    ).rejects.toThrow('failed after 3: HTTP 502');
    await expect(
      withHttpRetry(() => Promise.reject(answer(401)), settings, { what: 'x', ...reading, describe }),
    ).rejects.toThrow('failed after 1: HTTP 401');
    expect(attemptsSeen).toEqual([3, 1]);
  });
});

describe('timeouts', () => {
  // Accepts every connection and never answers: a vendor that hangs.
  const silent = http.createServer(() => undefined);
  let root = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    root = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });

  const timedOut = { code: 'ETIMEDOUT', message: 'no answer within 100 ms (timeoutMs)' };

  it('withDeadline fails a request without an answer as ETIMEDOUT once its time is up, and not before', async () => {
    const started = Date.now();
    await expect(withDeadline(new Promise(() => undefined), 100)).rejects.toMatchObject(timedOut);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    await expect(withDeadline(Promise.resolve('answer'), 100)).resolves.toBe('answer');
  });

  it('a timed-out request counts as a network failure, so it is retried', async () => {
    const error = await withDeadline(new Promise(() => undefined), 10).catch((caught: unknown) => caught);
    expect(isRetryable(undefined, undefined, error)).toBe(true);
  });

  it('fetchWithin fails a fetch without an answer as ETIMEDOUT', async () => {
    const started = Date.now();
    await expect(fetchWithin(100, `${root}/historical/2026-03-02.json`, {})).rejects.toMatchObject(timedOut);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('timeoutAgent ends a request whose socket stays silent with ETIMEDOUT', async () => {
    const agent = timeoutAgent(false, 100);
    try {
      const error = await new Promise<unknown>((resolve) => {
        const request = http.get(`${root}/crm/v3/objects/contacts`, { agent }, () => resolve('answered'));
        request.on('error', resolve);
        // Without the agent's limit the request would hang for good: fail the test, not the run.
        setTimeout(() => resolve('still waiting after 2 s'), 2_000).unref();
      });
      expect(error).toMatchObject(timedOut);
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTP source URLs', () => {
  const form = {
    scheme: 'vendor',
    exampleHost: 'api.vendor.example',
    credential: 'API key',
    secretParameter: 'keySecret',
    parameters: ['start'],
  };

  it('accepts the shared parameters and those of the form, and refuses any other', () => {
    const url =
      'vendor://api.vendor.example/v1?keySecret=K&tls=true&timeoutMs=5&attempts=2&retryBaseMs=1&retryMaxMs=3&start=x';
    const { secretName, parsed } = parseHttpSourceUrl(url, 'VENDOR_URL', form);
    expect(secretName).toBe('K');
    expect(httpSettings('VENDOR_URL', parsed.searchParams)).toEqual({
      timeoutMs: 5,
      attempts: 2,
      retryBaseMs: 1,
      retryMaxMs: 3,
    });
    expect(() =>
      parseHttpSourceUrl('vendor://api.vendor.example?keySecret=K&apiKey=abc123', 'VENDOR_URL', form),
    ).toThrow(
      /^VENDOR_URL: unknown URL parameter\(s\) apiKey in "vendor:\/\/api\.vendor\.example\?keySecret=K&apiKey=\*\*\*"$/,
    );
  });

  it('takes no credential in the URL, only the name of its secret', () => {
    // Anchored: the message is the advice alone, the password of the URL nowhere in it.
    expect(() =>
      parseHttpSourceUrl('vendor://user:abc123@api.vendor.example?keySecret=K', 'VENDOR_URL', form),
    ).toThrow(/^VENDOR_URL: put the API key in the secret store and name it with keySecret=<name>$/);
    expect(() => parseHttpSourceUrl('vendor://api.vendor.example', 'VENDOR_URL', form)).toThrow(
      /needs keySecret=<secret name>/,
    );
  });

  it('defaults to 30 s per request and 6 attempts, and bounds what the URL sets', () => {
    expect(httpSettings('VENDOR_URL', new URLSearchParams())).toEqual({
      timeoutMs: 30_000,
      attempts: 6,
      retryBaseMs: 1_000,
      retryMaxMs: 30_000,
    });
    expect(() => httpSettings('VENDOR_URL', new URLSearchParams('attempts=0'))).toThrow(/attempts/);
  });

  it('speaks plain HTTP only to a loopback host', () => {
    expect(originOf('U', new URL('vendor://api.vendor.example:8443/v1'))).toEqual({
      tls: true,
      origin: 'https://api.vendor.example:8443',
    });
    expect(originOf('U', new URL('vendor://127.0.0.1:9000?tls=false'))).toEqual({
      tls: false,
      origin: 'http://127.0.0.1:9000',
    });
    expect(() => originOf('U', new URL('vendor://api.vendor.example?tls=false'))).toThrow(
      /only for a loopback/,
    );
  });
});
