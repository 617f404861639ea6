// A local stand-in for a daily FX rates vendor, for the FX source's tests (no internet here, and a real vendor
// cannot be made to skip a day, publish one late or throttle on cue). It follows Open Exchange Rates' documented
// shapes for what adapters/source/fx-http.ts uses: `GET /api/historical/<YYYY-MM-DD>.json` with `base` and `symbols`,
// the App ID as `?app_id=` or `Authorization: Token <id>`, the answer `{disclaimer, license, timestamp, base, rates}`
// and the error body `{error: true, status, message, description}` (401 missing_app_id / invalid_app_id, 400
// invalid_base / invalid_date, 404 not_found, 429 access_restricted with Retry-After). One departure, on purpose:
// Open Exchange Rates publishes every day, but many vendors (the ECB's reference rates and those built on them)
// publish no weekend or holiday rates; here a day nobody seeded answers 404 not_found, as such a vendor's missing
// day does.
//
//   node scripts/services/fx-server.ts --port 23457 [--host 127.0.0.1]
//
// Not the vendor (all under /__test/, so no client of a real API could call them by mistake):
//   POST /__test/accounts {base?} -> {appId}: a fresh empty dataset per test, so suites sharing this server never
//        see each other's rates. `base` (default USD) is the currency the seeded rates are quoted against.
//   POST /__test/rates {days: {"YYYY-MM-DD": {"EUR": 0.92, ...}}, timestamps?: {"YYYY-MM-DD": <unix seconds>}}
//        (Authorization: Token <appId>): publishes those days (a day seeded again is replaced: a late or corrected
//        publication). A day's timestamp defaults to 23:59:59 UTC of the day (end-of-day rates).
//   DELETE /__test/rates/<YYYY-MM-DD> (token): withdraws a day.
//   POST /__test/faults {count, status, retryAfterSeconds?} (token): its next `count` API requests answer `status`
//        (429 with Retry-After and the vendor's body, or a 5xx as a gateway's HTML page).
//   POST /__test/faults {count, delayMs} (token): its next `count` API requests are answered only after `delayMs`.
//   GET  /__test/stats (token): {requests, faultsServed, delaysServed, dates} (`dates`: each historical day asked).
// Data lives in memory: a restart empties every account (tests create their own).
import crypto from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const DISCLAIMER = 'Test data from the local FX stand-in (scripts/services/fx-server.ts), not market rates.';
const LICENSE = 'For tests only.';
/** Open Exchange Rates answers with six decimals. */
const DECIMALS = 6;

interface Day {
  /** Units of each currency per one unit of the account's base. */
  rates: Map<string, number>;
  timestamp: number;
}

interface Account {
  appId: string;
  base: string;
  days: Map<string, Day>;
  faults: { count: number; status: number; retryAfterSeconds: number };
  delays: { count: number; ms: number };
  stats: { requests: number; faultsServed: number; delaysServed: number; dates: string[] };
}

const accounts = new Map<string, Account>();

class HttpError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, description: string) {
    super(description);
    this.status = status;
    this.code = code;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const errorBody = (status: number, message: string, description: string) => ({
  error: true,
  status,
  message,
  description,
});

const CURRENCY = /^[A-Z]{3}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function isDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'invalid_request', 'The request body is not a JSON object.');
}

function appIdOf(req: http.IncomingMessage, url: URL): string | undefined {
  const header = /^Token\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return header?.[1] ?? url.searchParams.get('app_id') ?? undefined;
}

function authenticate(req: http.IncomingMessage, url: URL): Account {
  const appId = appIdOf(req, url);
  if (!appId)
    throw new HttpError(
      401,
      'missing_app_id',
      'No App ID provided. Please sign up at https://openexchangerates.org/signup, or contact support@openexchangerates.org.',
    );
  const account = accounts.get(appId);
  if (!account)
    throw new HttpError(
      401,
      'invalid_app_id',
      'Invalid App ID provided. Please sign up at https://openexchangerates.org/signup, or contact support@openexchangerates.org.',
    );
  return account;
}

function newAccount(body: Record<string, unknown>): Account {
  const base = String(body.base ?? 'USD');
  if (!CURRENCY.test(base)) throw new HttpError(400, 'invalid_base', 'base must be a 3-letter currency code');
  const account: Account = {
    appId: crypto.randomBytes(16).toString('hex'),
    base,
    days: new Map(),
    faults: { count: 0, status: 0, retryAfterSeconds: 0 },
    delays: { count: 0, ms: 0 },
    stats: { requests: 0, faultsServed: 0, delaysServed: 0, dates: [] },
  };
  accounts.set(account.appId, account);
  return account;
}

function seedRates(account: Account, body: Record<string, unknown>): number {
  const days = body.days;
  if (!days || typeof days !== 'object')
    throw new HttpError(400, 'invalid_request', 'days must be an object');
  const timestamps = (body.timestamps ?? {}) as Record<string, unknown>;
  let seeded = 0;
  for (const [date, rates] of Object.entries(days as Record<string, unknown>)) {
    if (!isDay(date)) throw new HttpError(400, 'invalid_date', `${date} is not a YYYY-MM-DD day`);
    if (!rates || typeof rates !== 'object')
      throw new HttpError(400, 'invalid_request', `${date}: rates object`);
    const map = new Map<string, number>([[account.base, 1]]);
    for (const [currency, rate] of Object.entries(rates as Record<string, unknown>)) {
      if (!CURRENCY.test(currency) || typeof rate !== 'number' || !(rate > 0))
        throw new HttpError(400, 'invalid_request', `${date}: ${currency} needs a positive number`);
      map.set(currency, rate);
    }
    const stamp = timestamps[date];
    const timestamp =
      stamp === undefined ? Date.parse(`${date}T23:59:59Z`) / 1000 : Math.floor(Number(stamp));
    if (!Number.isFinite(timestamp)) throw new HttpError(400, 'invalid_request', `${date}: timestamp`);
    account.days.set(date, { rates: map, timestamp });
    seeded += 1;
  }
  return seeded;
}

/** The day's rates against `base` (Open Exchange Rates converts from its USD quotes the same way), six decimals. */
function historical(account: Account, date: string, url: URL) {
  if (!isDay(date))
    throw new HttpError(400, 'invalid_date', 'Please provide a valid date in the format YYYY-MM-DD.');
  account.stats.dates.push(date);
  const day = account.days.get(date);
  if (!day) throw new HttpError(404, 'not_found', `No historical rates are available for ${date}.`);
  const base = (url.searchParams.get('base') ?? 'USD').toUpperCase();
  const pivot = day.rates.get(base);
  if (pivot === undefined)
    throw new HttpError(400, 'invalid_base', `The base currency ${base} is not supported.`);
  const symbols = url.searchParams.get('symbols');
  const wanted = symbols ? symbols.split(',').map((symbol) => symbol.trim().toUpperCase()) : null;
  const rates: Record<string, number> = {};
  for (const [currency, rate] of [...day.rates].sort(([a], [b]) => a.localeCompare(b))) {
    if (wanted && !wanted.includes(currency)) continue;
    rates[currency] = currency === base ? 1 : Number((rate / pivot).toFixed(DECIMALS));
  }
  return { disclaimer: DISCLAIMER, license: LICENSE, timestamp: day.timestamp, base, rates };
}

/** An injected fault, answered as the vendor's edge does: 429 as JSON with Retry-After, a 5xx as a gateway's page. */
function injectFault(account: Account, res: http.ServerResponse): boolean {
  if (account.faults.count <= 0) return false;
  account.faults.count -= 1;
  account.stats.faultsServed += 1;
  const { status, retryAfterSeconds } = account.faults;
  if (status === 429) {
    send(
      res,
      429,
      errorBody(
        429,
        'access_restricted',
        'Access restricted for repeated over-use (status: 429). Please slow down your requests.',
      ),
      { 'retry-after': String(retryAfterSeconds) },
    );
  } else {
    const text = `<html><body><h1>${status}</h1>upstream error</body></html>`;
    res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
  return true;
}

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (method === 'GET' && path === '/') return send(res, 200, { service: 'fx test server' });
  if (method === 'POST' && path === '/__test/accounts') {
    const account = newAccount(await readJson(req));
    return send(res, 201, { appId: account.appId, base: account.base });
  }
  const account = authenticate(req, url);
  if (method === 'POST' && path === '/__test/rates')
    return send(res, 200, { seeded: seedRates(account, await readJson(req)) });
  let m = /^\/__test\/rates\/([^/]+)$/.exec(path);
  if (m && method === 'DELETE') return send(res, 200, { deleted: account.days.delete(m[1] as string) });
  if (method === 'POST' && path === '/__test/faults') {
    const body = await readJson(req);
    const count = Number(body.count ?? 1);
    if (!Number.isInteger(count) || count < 0)
      throw new HttpError(400, 'invalid_request', 'count must be a non-negative integer');
    if (body.delayMs !== undefined) {
      const ms = Number(body.delayMs);
      if (!Number.isInteger(ms) || ms < 0)
        throw new HttpError(400, 'invalid_request', 'delayMs must be a non-negative integer');
      account.delays = { count, ms };
      return send(res, 200, account.delays);
    }
    const status = Number(body.status);
    if (status !== 429 && !(status >= 500 && status <= 599))
      throw new HttpError(400, 'invalid_request', 'status must be 429 or 5xx');
    account.faults = { count, status, retryAfterSeconds: Number(body.retryAfterSeconds ?? 1) };
    return send(res, 200, account.faults);
  }
  if (method === 'GET' && path === '/__test/stats') return send(res, 200, account.stats);

  account.stats.requests += 1;
  if (account.delays.count > 0) {
    account.delays.count -= 1;
    account.stats.delaysServed += 1;
    await sleep(account.delays.ms);
    // The client gave up waiting: nothing to answer.
    if (res.destroyed || req.socket.destroyed) return;
  }
  if (injectFault(account, res)) return;
  m = /^\/api\/historical\/([^/]+)\.json$/.exec(path);
  if (m && method === 'GET') return send(res, 200, historical(account, m[1] as string, url));
  throw new HttpError(404, 'not_found', 'Client requested a non-existent resource/route.');
}

function parseArgs(argv: string[]): { port: number; host: string } {
  const value = (flag: string) => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const port = Number(value('--port'));
  if (!Number.isInteger(port) || port <= 0)
    throw new Error('usage: fx-server.ts --port <port> [--host <host>]');
  return { port, host: value('--host') ?? '127.0.0.1' };
}

export function createFxServer(): http.Server {
  return http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError)
        return send(res, error.status, errorBody(error.status, error.code, error.message));
      console.error(error);
      send(res, 500, errorBody(500, 'internal_error', 'internal error'));
    });
  });
}

if (import.meta.main) {
  const { port, host } = parseArgs(process.argv.slice(2));
  const server = createFxServer();
  server.listen(port, host, () => console.log(`fx test server listening on http://${host}:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
