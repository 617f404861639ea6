// The FX vendor source against the local daily-rates stand-in (scripts/services/fx-server.ts, started by
// `npm run services:up`). Each test makes its own account there, so tests never see each other's rates.
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openEnvSecrets } from '../secrets/env.ts';
import { FX_COLUMNS, openFxSource, parseFxUrl, rateToUsd } from './fx-http.ts';
import { openSourceConnector } from './index.ts';
import type { SourceStream, WindowRequest } from './source-connector.ts';

const BASE = loadServiceEnv().TEST_FX_URL;
const HOST = new URL(BASE).host;

const FX: SourceStream = {
  name: 'fx_rates',
  remoteName: 'USD,EUR,GBP',
  columns: [...FX_COLUMNS],
  primaryKey: ['rate_date', 'currency'],
  cursor: 'updated_at',
};

/** Rates quoted against EUR, as a European vendor publishes them: units of each currency per 1 EUR. */
const EUR_RATES = { USD: 1.08, GBP: 0.85 };

async function call(appId: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Token ${appId}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

async function account(days: Record<string, Record<string, number>>, base = 'EUR'): Promise<string> {
  const { appId } = await call('', 'POST', '/__test/accounts', { base });
  if (Object.keys(days).length > 0) await call(appId, 'POST', '/__test/rates', { days });
  return appId;
}

function source(appId: string, parameters = '', now = '2026-03-10T05:00:00Z', onRetry?: (m: string) => void) {
  return openFxSource(
    `fxrates://${HOST}/api?keySecret=FX_KEY&tls=false&base=EUR&start=2026-03-02&retryBaseMs=10${parameters}`,
    {
      secrets: openEnvSecrets('env://', { FX_KEY: appId }),
      now: () => new Date(now),
      ...(onRetry ? { onRetry } : {}),
    },
  );
}

const FIRST: WindowRequest = { after: null, lookbackSeconds: 0, safetyLagSeconds: 0 };

async function read(
  connector: ReturnType<typeof openFxSource>,
  request: WindowRequest,
  stream: SourceStream = FX,
) {
  let rows: Record<string, string>[] = [];
  const window = await connector.readWindow(stream, request, async (csv) => {
    const chunks: Buffer[] = [];
    for await (const chunk of csv) chunks.push(chunk);
    rows = parse(Buffer.concat(chunks), { columns: true });
    return rows.length;
  });
  return { window, rows };
}

/** Mon 2026-03-02 to Fri 03-06 published, the weekend 03-07/08 not, Mon 03-09 published. */
const WEEK: Record<string, Record<string, number>> = {
  '2026-03-02': EUR_RATES,
  '2026-03-03': { USD: 1.09, GBP: 0.86 },
  '2026-03-04': EUR_RATES,
  '2026-03-05': EUR_RATES,
  '2026-03-06': { USD: 1.1, GBP: 0.84 },
  '2026-03-09': { USD: 1.07, GBP: 0.85 },
};

describe('FX vendor source (fxrates://)', () => {
  it('reads each complete day as one row per currency, in USD per unit, converted from the vendor base', async () => {
    const appId = await account(WEEK);
    const connector = source(appId);
    const { window, rows } = await read(connector, FIRST);
    // 03-02 .. 03-09: today (03-10) is incomplete and not read.
    expect(window).toEqual({ upTo: '2026-03-10T00:00:00.000Z', rereadFrom: null, rows: 24, reread: 0 });
    expect(Object.keys(rows[0] ?? {})).toEqual([...FX_COLUMNS]);
    const monday = rows.filter((row) => row.rate_date === '2026-03-02');
    // USD per 1 EUR is the EUR-based USD quote; USD per 1 GBP is USD/GBP.
    expect(monday.map((row) => [row.currency, row.rate_to_usd])).toEqual([
      ['USD', '1'],
      ['EUR', '1.08'],
      ['GBP', (1.08 / 0.85).toFixed(8)],
    ]);
    expect(monday.every((row) => row.is_carried_forward === 'false')).toBe(true);
    expect(monday[0]?.updated_at).toBe('2026-03-03T00:00:00.000000Z');
    expect(monday[0]?.created_at).toBe('2026-03-02T23:59:59.000Z');
    await connector.close();
  });

  it('carries a weekend forward from Friday, flagged, and a later publication replaces it as a newer version', async () => {
    const appId = await account(WEEK);
    const first = await read(source(appId), FIRST);
    const saturday = first.rows.filter((row) => row.rate_date === '2026-03-07');
    const sunday = first.rows.filter((row) => row.rate_date === '2026-03-08');
    const friday = first.rows.filter((row) => row.rate_date === '2026-03-06');
    expect(saturday.map((row) => row.rate_to_usd)).toEqual(friday.map((row) => row.rate_to_usd));
    expect(saturday.every((row) => row.is_carried_forward === 'true')).toBe(true);
    // One microsecond per day carried below the day's end: a publication of the day outranks it.
    expect(saturday[0]?.updated_at).toBe('2026-03-07T23:59:59.999999Z');
    expect(sunday[0]?.updated_at).toBe('2026-03-08T23:59:59.999998Z');
    expect(saturday[0]?.created_at).toBe(friday[0]?.created_at);

    // The vendor publishes Saturday late; the next window (Tuesday's day complete) asks the days behind again.
    await call(appId, 'POST', '/__test/rates', {
      days: { '2026-03-10': EUR_RATES, '2026-03-07': { USD: 1.2, GBP: 0.9 } },
    });
    const next = await read(source(appId, '&recheckDays=3', '2026-03-11T01:00:00Z'), {
      after: '2026-03-10 00:00:00+00',
      lookbackSeconds: 900,
      safetyLagSeconds: 0,
    });
    expect(next.window).toMatchObject({
      upTo: '2026-03-11T00:00:00.000Z',
      rereadFrom: '2026-03-07T00:00:00.000Z',
    });
    // 03-07 .. 03-09 re-read, 03-10 new.
    expect(next.window.rows).toBe(12);
    expect(next.window.reread).toBe(9);
    const saturdayNow = next.rows.filter((row) => row.rate_date === '2026-03-07');
    expect(saturdayNow.map((row) => row.is_carried_forward)).toEqual(['false', 'false', 'false']);
    expect(saturdayNow.find((row) => row.currency === 'EUR')?.rate_to_usd).toBe('1.2');
    expect(saturdayNow[0]?.updated_at).toBe('2026-03-08T00:00:00.000000Z');
    expect(Date.parse(saturdayNow[0]?.updated_at ?? '')).toBeGreaterThan(
      Date.parse(saturday[0]?.updated_at ?? ''),
    );
    // Sunday is carried from Saturday now: one day, so a newer version than the one carried from Friday.
    const sundayNow = next.rows.filter((row) => row.rate_date === '2026-03-08');
    expect(sundayNow[0]?.updated_at).toBe('2026-03-08T23:59:59.999999Z');
    expect(sundayNow.find((row) => row.currency === 'EUR')?.rate_to_usd).toBe('1.2');
  });

  it('moves by whole days: nothing new until a day completes, the safety lag holds back a just-ended day', async () => {
    const appId = await account(WEEK);
    const connector = source(appId, '&recheckDays=0', '2026-03-10T00:30:00Z');
    // 30 minutes after Monday 03-09 ended, a one-hour lag leaves it for later.
    const lagged = await read(connector, { ...FIRST, safetyLagSeconds: 3600 });
    expect(lagged.window.upTo).toBe('2026-03-09T00:00:00.000Z');
    expect(lagged.rows.at(-1)?.rate_date).toBe('2026-03-08');
    const again = await read(connector, {
      after: lagged.window.upTo,
      lookbackSeconds: 0,
      safetyLagSeconds: 3600,
    });
    expect(again.window).toEqual({ upTo: null, rereadFrom: null, rows: 0, reread: 0 });
    const later = await read(source(appId, '&recheckDays=0', '2026-03-10T02:00:00Z'), {
      after: lagged.window.upTo,
      lookbackSeconds: 0,
      safetyLagSeconds: 3600,
    });
    expect(later.window).toMatchObject({ upTo: '2026-03-10T00:00:00.000Z', rows: 3, reread: 0 });
    expect(new Set(later.rows.map((row) => row.rate_date))).toEqual(new Set(['2026-03-09']));
  });

  it('limits a first read to maxDays and continues from the checkpoint', async () => {
    const appId = await account(WEEK);
    const first = await read(source(appId, '&maxDays=3'), FIRST);
    expect(first.window.upTo).toBe('2026-03-05T00:00:00.000Z');
    expect(new Set(first.rows.map((row) => row.rate_date)).size).toBe(3);
    const next = await read(source(appId, '&maxDays=3&recheckDays=0'), {
      after: first.window.upTo,
      lookbackSeconds: 0,
      safetyLagSeconds: 0,
    });
    expect(next.rows[0]?.rate_date).toBe('2026-03-05');
    expect(next.window.upTo).toBe('2026-03-08T00:00:00.000Z');
  });

  it('carries into the first day from before start, and fails past maxCarryDays', async () => {
    const appId = await account({ '2026-02-27': EUR_RATES });
    const connector = source(appId, '&maxCarryDays=3', '2026-03-03T01:00:00Z');
    const { rows } = await read(connector, FIRST);
    expect(new Set(rows.map((row) => row.rate_date))).toEqual(new Set(['2026-03-02']));
    expect(rows.every((row) => row.is_carried_forward === 'true')).toBe(true);
    await expect(read(source(appId, '&maxCarryDays=3', '2026-03-04T01:00:00Z'), FIRST)).rejects.toThrow(
      /no rates published for 2026-03-03 nor the 3 days before it/,
    );
  });

  it('retries a 429 after its Retry-After, and a 5xx, then reads', async () => {
    const appId = await account(WEEK);
    await call(appId, 'POST', '/__test/faults', { count: 1, status: 429, retryAfterSeconds: 1 });
    const retries: string[] = [];
    const started = Date.now();
    const { window } = await read(
      source(appId, '', '2026-03-04T01:00:00Z', (m) => retries.push(m)),
      FIRST,
    );
    expect(window.rows).toBe(6);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(retries).toEqual([expect.stringMatching(/429 on attempt 1, retrying in 1000 ms/)]);
    await call(appId, 'POST', '/__test/faults', { count: 2, status: 503 });
    const again = await read(source(appId, '', '2026-03-04T01:00:00Z'), FIRST);
    expect(again.window.rows).toBe(6);
    await call(appId, 'POST', '/__test/faults', { count: 3, status: 502 });
    await expect(read(source(appId, '&attempts=3', '2026-03-04T01:00:00Z'), FIRST)).rejects.toThrow(
      /FX read of 2026-03-02 failed after 3 attempts \(HTTP 502\)/,
    );
  });

  it('times out a request that hangs, and retries it', async () => {
    const appId = await account(WEEK);
    await call(appId, 'POST', '/__test/faults', { count: 1, delayMs: 2000 });
    const retries: string[] = [];
    const { window } = await read(
      source(appId, '&timeoutMs=300', '2026-03-03T01:00:00Z', (m) => retries.push(m)),
      FIRST,
    );
    expect(window.rows).toBe(3);
    expect(retries[0]).toMatch(/ETIMEDOUT on attempt 1/);
  });

  it('names the secret, never the key, when the vendor refuses it', async () => {
    const key = 'not-a-key-0123456789abcdef';
    const connector = source(key);
    const error = await connector.check([FX]).catch((failure: unknown) => failure as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /refused the API key of secret FX_KEY \(HTTP 401 invalid_app_id\)/,
    );
    expect((error as Error).message).not.toContain(key);
    await expect(read(connector, FIRST)).rejects.toThrow(/HTTP 401/);
  });

  it('checks the stream: its currencies, cursor and columns', async () => {
    const appId = await account(WEEK);
    await expect(
      source(appId).check([
        { ...FX, remoteName: 'dollars', cursor: 'rate_date', columns: ['rate_date', 'price'] },
      ]),
    ).rejects.toThrow(/must list the currencies[\s\S]*cursor must be updated_at[\s\S]*no column\(s\) price/);
    await expect(source(appId).check([FX])).resolves.toBeUndefined();
  });

  it('is opened by URL scheme; the URL carries no key and plain HTTP only on loopback', async () => {
    const connector = await openSourceConnector(
      'FX_SOURCE_URL',
      `fxrates://${HOST}/api?keySecret=FX_KEY&tls=false&start=2026-03-02`,
      { secrets: openEnvSecrets('env://', { FX_KEY: 'x' }) },
    );
    expect(connector.kind).toBe('fxrates');
    expect(() => parseFxUrl('fxrates://fx.example.com/api?keySecret=K&start=2026-01-01&tls=false')).toThrow(
      /only for a loopback/,
    );
    expect(() => parseFxUrl('fxrates://fx.example.com/api?keySecret=K')).toThrow(/needs start=<YYYY-MM-DD>/);
    expect(() => parseFxUrl('fxrates://key@fx.example.com/api?keySecret=K&start=2026-01-01')).toThrow(
      /secret store/,
    );
    expect(parseFxUrl('fxrates://fx.example.com/api/?keySecret=K&start=2026-01-01').root).toBe(
      'https://fx.example.com/api',
    );
  });

  it('converts from any base: USD per unit is rates[USD] / rates[X]', () => {
    expect(rateToUsd({ base: 'USD', rates: { EUR: 0.925926, JPY: 149.5 } }, 'JPY')).toBe('0.00668896');
    expect(rateToUsd({ base: 'USD', rates: { EUR: 0.925926 } }, 'USD')).toBe('1');
    expect(rateToUsd({ base: 'GBP', rates: { USD: 1.27, EUR: 1.17 } }, 'GBP')).toBe('1.27');
    expect(rateToUsd({ base: 'GBP', rates: { USD: 1.27, EUR: 1.17 } }, 'EUR')).toBe((1.27 / 1.17).toFixed(8));
    expect(rateToUsd({ base: 'GBP', rates: { EUR: 1.17 } }, 'EUR')).toBeNull();
  });
});
