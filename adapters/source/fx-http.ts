/**
 * A daily FX rates vendor over HTTP as a source: one stream of end-of-day rates, one row per (rate_date, currency),
 * read day by day from an Open Exchange Rates-shaped API (`GET <root>/historical/<YYYY-MM-DD>.json?base=&symbols=`
 * answering `{timestamp, base, rates: {EUR: 0.92, ...}}`, the App ID in an `Authorization: Token` header).
 *
 * URL: `fxrates://openexchangerates.org/api?keySecret=<name>&start=2024-01-01[&base=USD]` (HTTPS; the API key is
 * the secret store's value for `<name>`, never in the URL). For the local test server:
 * `fxrates://127.0.0.1:<port>/api?keySecret=<name>&start=…&tls=false` (plain HTTP only for a loopback host).
 * `start` is the first rate day ever read. Tuning, all optional: `base` (the vendor's quote currency asked for,
 * default USD: a plan that cannot change it still converts correctly), `timeoutMs` (30000 per request), `attempts`
 * (6), `retryBaseMs` (1000), `retryMaxMs` (30000), `recheckDays` (7: days behind the checkpoint asked again, so a
 * late publication replaces its carried-forward rows), `maxCarryDays` (7: longer without a publication fails the
 * read), `maxDays` (400 new days per window: a first read of a long history takes a few runs).
 *
 * The stream's columns are the fx_rates contract's: `rate_date`, `currency`, `rate_to_usd` (USD per one unit of the
 * currency: the vendor's `rates[X]` are units of X per one unit of its base B, so rate_to_usd(X) = rates[USD] /
 * rates[X], with rates[B] = 1; 8 decimals), `is_carried_forward`, `created_at` (the vendor's publication timestamp
 * of the rates used), `updated_at` (the cursor). Its remoteName is the currencies to read, comma-separated
 * (`USD,EUR,GBP`), asked for as `symbols` (USD always, for the conversion).
 *
 * Days: a day is read once it is complete: its end (next midnight UTC) at least the safety lag old, so today is never
 * read. A day the vendor did not publish (a 404, as for weekends and holidays at vendors built on central-bank
 * fixings) gets the last published day's rates, flagged `is_carried_forward`. The cursor `updated_at` is the day's
 * end less one microsecond per day carried: a publication (0 days) outranks any carried-forward version of its day,
 * and a carry from a newer day outranks one from an older, so silver's latest version per key is always the best
 * rate known; the same answers always give the same bytes. A window covers whole days and its checkpoint (`upTo`) is
 * its last day's end, so ties are never split and the checkpoint only grows. Each window with a new day also asks
 * the `recheckDays` days before the checkpoint again (at least the lookback): a day published late replaces its
 * carried-forward rows, and the days carried after it carry the new rates.
 */
import { csvLine, postgresCsvRecord } from '../csv.ts';
import { redactSecrets } from '../redact.ts';
import { networkErrorCode } from '../retry.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { integerParameter } from '../url.ts';
import {
  fetchWithin,
  type HttpSettings,
  httpSettings,
  originOf,
  parseHttpSourceUrl,
  retryAfterMs,
  withHttpRetry,
} from './http.ts';
import {
  MissingStreamsError,
  type SourceConnector,
  type SourceStream,
  type SourceWindow,
  type UnreadableRows,
  type WindowRequest,
  type WindowWriter,
} from './source-connector.ts';

export interface FxSourceOptions {
  /** The setting holding the URL (`FX_SOURCE_URL`), named in every error. */
  setting?: string;
  /** Resolves `keySecret=<name>`. */
  secrets?: SecretStore;
  /** The clock days and the safety lag are measured on (tests). */
  now?: () => Date;
  /** Told before each retry wait, with a message that never carries the key. */
  onRetry?: (message: string) => void;
}

interface FxSettings extends HttpSettings {
  setting: string;
  display: string;
  root: string;
  keySecret: string;
  base: string;
  startDay: number;
  recheckDays: number;
  maxCarryDays: number;
  maxDays: number;
}

/** The columns this source writes: the fx_rates contract's. */
export const FX_COLUMNS = [
  'rate_date',
  'currency',
  'rate_to_usd',
  'is_carried_forward',
  'created_at',
  'updated_at',
] as const;
const CURSOR = 'updated_at';

const URL_FORM = {
  scheme: 'fxrates',
  exampleHost: 'openexchangerates.org/api',
  credential: 'API key',
  secretParameter: 'keySecret',
  parameters: ['base', 'start', 'recheckDays', 'maxCarryDays', 'maxDays'],
};
const CURRENCY = /^[A-Z]{3}$/;
const DAY_MS = 86_400_000;
/** rate_to_usd is numeric(18, 8). */
const RATE_DECIMALS = 8;

/** Days since 1970-01-01 UTC of a `YYYY-MM-DD` text, or NaN when it names no calendar day. */
function dayNumber(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return Number.NaN;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) return Number.NaN;
  return ms / DAY_MS;
}

const dayText = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** The end of a day (next midnight UTC), in ms. */
const dayEnd = (day: number) => (day + 1) * DAY_MS;

export function parseFxUrl(url: string, setting = 'FX source URL'): FxSettings {
  const { display, parsed, secretName } = parseHttpSourceUrl(url, setting, URL_FORM);
  const params = parsed.searchParams;
  const start = params.get('start') ?? '';
  const startDay = dayNumber(start);
  if (Number.isNaN(startDay))
    throw new Error(`${setting}: "${display}" needs start=<YYYY-MM-DD>, the first rate day to read`);
  const base = (params.get('base') ?? 'USD').toUpperCase();
  if (!CURRENCY.test(base))
    throw new Error(`${setting}: base must be a 3-letter currency code (got "${base}")`);
  const { origin } = originOf(setting, parsed);
  return {
    setting,
    display,
    root: `${origin}${parsed.pathname.replace(/\/+$/, '')}`,
    keySecret: secretName,
    base,
    startDay,
    ...httpSettings(setting, params),
    recheckDays: integerParameter(setting, params, 'recheckDays', 7, 0, 366),
    maxCarryDays: integerParameter(setting, params, 'maxCarryDays', 7, 0, 366),
    maxDays: integerParameter(setting, params, 'maxDays', 400, 1, 10_000),
  };
}

/** An answer of the vendor other than rates, worded without the key. */
export class FxApiError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(message: string, status?: number, code?: string) {
    super(message);
    this.name = 'FxApiError';
    this.status = status;
    this.code = code;
  }
}

/** One failed attempt, before it is worded for the caller (and stripped of the key). */
class AttemptError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(detail: string, status?: number, code?: string, retryAfterMs?: number) {
    super(detail);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/** One day's answer: its rates against `base` and the vendor's timestamp, or null when the day was not published. */
interface Publication {
  day: number;
  /** Units of each currency per one unit of `base`. */
  rates: Record<string, number>;
  base: string;
  timestampMs: number;
}

interface RateRow {
  day: number;
  values: (string | null)[];
}

/** USD per one unit of `currency`, from rates against any base, at the contract's 8 decimals (null: not quoted). */
export function rateToUsd(publication: Pick<Publication, 'rates' | 'base'>, currency: string): string | null {
  const quote = (code: string) =>
    code === publication.base ? 1 : Number(publication.rates[code] ?? Number.NaN);
  const usd = quote('USD');
  const units = quote(currency);
  if (!(usd > 0) || !(units > 0)) return null;
  const text = (usd / units).toFixed(RATE_DECIMALS);
  if (Number(text) === 0) return null;
  return text.replace(/0+$/, '').replace(/\.$/, '');
}

/** The cursor as text the warehouse and the contract read alike: ISO with microseconds, UTC. */
function cursorText(ms: number, micros: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 19)}.${String(Math.round((ms % 1000) * 1000 + micros)).padStart(6, '0')}Z`;
}

/** The checkpoint as the warehouse hands it back (`2026-03-03 00:00:00+00`), in ms. */
function checkpointMillis(text: string): number {
  const iso = text
    .trim()
    .replace(' ', 'T')
    .replace(/([+-]\d{2})$/, '$1:00');
  return Date.parse(iso);
}

export function openFxSource(url: string, options: FxSourceOptions = {}): SourceConnector {
  const settings = parseFxUrl(url, options.setting);
  const now = options.now ?? (() => new Date());
  let key: Promise<string> | undefined;

  function apiKey(): Promise<string> {
    key ??= (async () => {
      const secrets = options.secrets;
      if (!secrets)
        throw new Error(
          `${settings.setting}: keySecret=${settings.keySecret} needs a secret store (SECRETS_URL)`,
        );
      return (await secrets.get(settings.keySecret)).trim();
    })();
    key.catch(() => {
      key = undefined;
    });
    return key;
  }

  function describe(what: string, error: unknown, attempts: number, secret: string): FxApiError {
    const status = error instanceof AttemptError ? error.status : undefined;
    const code = error instanceof AttemptError ? error.code : undefined;
    const network = networkErrorCode(error);
    const detail =
      error instanceof AttemptError
        ? error.message
        : (network ?? String((error as Error | undefined)?.message ?? error));
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const message =
      status === 401
        ? `the FX vendor refused the API key of secret ${settings.keySecret} (HTTP 401${code ? ` ${code}` : ''}): ${detail}`
        : `FX ${what} failed${tries}${status !== undefined ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}: ${detail}`;
    const clean = redactSecrets(secret === '' ? message : message.replaceAll(secret, '***'));
    return new FxApiError(`${settings.setting} ${settings.display}: ${clean}`, status, code);
  }

  /** One GET, its JSON body; 404 is `null` (a day not published). */
  async function attempt(path: string, secret: string): Promise<Record<string, unknown> | null> {
    const response = await fetchWithin(settings.timeoutMs, `${settings.root}${path}`, {
      headers: { authorization: `Token ${secret}`, accept: 'application/json' },
    });
    const text = await response.text();
    let body: Record<string, unknown> | null = null;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      // A gateway's HTML page: described by its status alone.
    }
    if (response.status === 404 && body !== null) return null;
    if (!response.ok || body === null || body.error === true) {
      // Some vendors answer an error with HTTP 200 and the status in the body.
      const status = response.ok && typeof body?.status === 'number' ? body.status : response.status;
      const code = typeof body?.message === 'string' ? body.message : undefined;
      const detail =
        typeof body?.description === 'string'
          ? body.description
          : body === null
            ? `HTTP ${status}`
            : String(code);
      throw new AttemptError(detail, status, code, retryAfterMs(response.headers.get('retry-after')));
    }
    return body;
  }

  async function get(what: string, path: string): Promise<Record<string, unknown> | null> {
    const secret = await apiKey();
    return withHttpRetry(() => attempt(path, secret), settings, {
      what: `FX ${what}`,
      statusOf: (error) => (error instanceof AttemptError ? error.status : undefined),
      retryAfterMsOf: (error) => (error instanceof AttemptError ? error.retryAfterMs : undefined),
      describe: (error, attempts) => describe(what, error, attempts, secret),
      onRetry: options.onRetry,
    });
  }

  async function publication(day: number, currencies: string[]): Promise<Publication | null> {
    const date = dayText(day);
    const symbols = [...new Set(['USD', ...currencies])].join(',');
    const body = await get(
      `read of ${date}`,
      `/historical/${date}.json?base=${encodeURIComponent(settings.base)}&symbols=${encodeURIComponent(symbols)}`,
    );
    if (body === null) return null;
    // A vendor that answers a missing day with the day before's rates names that day: not this day's publication.
    if (typeof body.date === 'string' && body.date !== date) return null;
    const rates = body.rates;
    const base = typeof body.base === 'string' ? body.base.toUpperCase() : settings.base;
    if (!rates || typeof rates !== 'object')
      throw new FxApiError(`${settings.setting} ${settings.display}: the answer for ${date} has no rates`);
    const timestamp = typeof body.timestamp === 'number' ? body.timestamp * 1000 : dayEnd(day) - 1000;
    return { day, rates: rates as Record<string, number>, base, timestampMs: timestamp };
  }

  function currenciesOf(stream: SourceStream): string[] {
    const currencies = stream.remoteName.split(',').map((code) => code.trim().toUpperCase());
    if (currencies.length === 0 || currencies.some((code) => !CURRENCY.test(code)))
      throw new Error(
        `${stream.name}: remoteName "${stream.remoteName}" must list the currencies to read (USD,EUR,GBP)`,
      );
    return currencies;
  }

  function rowsOf(stream: SourceStream, day: number, from: Publication, currencies: string[]): RateRow[] {
    const carried = day - from.day;
    const cursorMs = dayEnd(day) - (carried > 0 ? 1 : 0);
    // Whole ms less the rest of the microseconds: day end less `carried` µs.
    const micros = carried > 0 ? 1000 - carried : 0;
    const updatedAt = cursorText(cursorMs, micros);
    const createdAt = new Date(from.timestampMs).toISOString();
    const rows: RateRow[] = [];
    for (const currency of currencies) {
      const rate = rateToUsd(from, currency);
      if (rate === null)
        throw new FxApiError(
          `${settings.setting} ${settings.display}: the rates of ${dayText(from.day)} (base ${from.base}) do not quote ${currency === 'USD' ? 'USD' : `${currency} and USD`}`,
        );
      const byColumn: Record<string, string> = {
        rate_date: dayText(day),
        currency,
        rate_to_usd: rate,
        is_carried_forward: carried > 0 ? 'true' : 'false',
        created_at: createdAt,
        updated_at: updatedAt,
      };
      rows.push({ day, values: stream.columns.map((column) => byColumn[column] ?? null) });
    }
    return rows;
  }

  /** The last publication at or before `day`, looking back at most maxCarryDays, or null. */
  async function lastPublishedBefore(day: number, currencies: string[]): Promise<Publication | null> {
    for (let back = 1; back <= settings.maxCarryDays; back += 1) {
      const found = await publication(day - back, currencies);
      if (found) return found;
    }
    return null;
  }

  return {
    kind: 'fxrates',

    async check(streams) {
      const problems: string[] = [];
      const missing: string[] = [];
      for (const stream of streams) {
        const found: string[] = [];
        try {
          currenciesOf(stream);
        } catch (error) {
          found.push((error as Error).message);
        }
        if (stream.cursor !== CURSOR)
          found.push(`${stream.name}: the cursor must be ${CURSOR}, not ${stream.cursor}`);
        const extra = stream.columns.filter((column) => !(FX_COLUMNS as readonly string[]).includes(column));
        if (extra.length > 0) found.push(`${stream.name}: an FX source has no column(s) ${extra.join(', ')}`);
        problems.push(...found);
        if (found.length > 0) missing.push(stream.remoteName);
      }
      if (problems.length > 0)
        throw new MissingStreamsError(
          `${settings.setting} ${settings.display} lacks what some streams read:\n  ${problems.join('\n  ')}`,
          missing,
        );
      // The key before any window: a refused key fails here; a day not published does not.
      if (streams.length > 0) await publication(settings.startDay, currenciesOf(streams[0] as SourceStream));
    },

    async readWindow(
      stream: SourceStream,
      request: WindowRequest,
      write: WindowWriter,
    ): Promise<SourceWindow> {
      const currencies = currenciesOf(stream);
      const after = request.after === null ? null : checkpointMillis(request.after);
      if (after !== null && Number.isNaN(after))
        throw new Error(`${stream.name}: checkpoint "${request.after}" is not an ${CURSOR} value`);
      const horizon = now().getTime() - request.safetyLagSeconds * 1000;
      // The last complete day: its end at or before the horizon.
      const lastComplete = Math.floor(horizon / DAY_MS) - 1;
      // The first day not yet read: the one whose end is past the checkpoint.
      const firstNew =
        after === null ? settings.startDay : Math.max(settings.startDay, Math.floor(after / DAY_MS));
      const lastDay = Math.min(lastComplete, firstNew + settings.maxDays - 1);
      if (lastDay < firstNew) return { upTo: null, rereadFrom: null, rows: 0, reread: 0 };
      const behind = Math.max(request.lookbackSeconds * 1000, settings.recheckDays * DAY_MS);
      const lower = after === null ? null : after - behind;
      // Days whose end is past `lower`, never before start.
      const firstDay =
        lower === null
          ? firstNew
          : Math.max(settings.startDay, Math.min(firstNew, Math.floor(lower / DAY_MS)));

      const rows: RateRow[] = [];
      let last: Publication | null = null;
      for (let day = firstDay; day <= lastDay; day += 1) {
        const found = await publication(day, currencies);
        if (found) last = found;
        else {
          if (last === null) last = await lastPublishedBefore(day, currencies);
          if (last === null || day - last.day > settings.maxCarryDays)
            throw new FxApiError(
              `${settings.setting} ${settings.display}: no rates published for ${dayText(day)} nor the ` +
                `${settings.maxCarryDays} days before it (maxCarryDays): not carrying a rate forward that far ` +
                '(a vendor outage, or a URL path that is not the API root)',
            );
        }
        rows.push(...rowsOf(stream, day, last, currencies));
      }
      const upTo = new Date(dayEnd(lastDay)).toISOString();
      const rereadFrom = lower === null ? null : new Date(lower).toISOString();
      if (rows.length === 0) return { upTo, rereadFrom, rows: 0, reread: 0 };
      const reread = after === null ? 0 : rows.filter((row) => dayEnd(row.day) <= after).length;
      const csv = async function* () {
        let chunk = csvLine([...stream.columns]);
        for (const row of rows) chunk += postgresCsvRecord(row.values);
        yield Buffer.from(chunk);
      };
      const written = await write(csv());
      if (written !== rows.length)
        throw new Error(
          `${stream.name}: the writer counted ${written} rows, the FX vendor gave ${rows.length}`,
        );
      return { upTo, rereadFrom, rows: rows.length, reread };
    },

    /** Every row has its day's cursor: none is unreadable (a day never published fails the read instead). */
    async unreadable(): Promise<UnreadableRows> {
      return { count: 0, sample: [] };
    },

    async close() {
      key = undefined;
    },
  };
}
