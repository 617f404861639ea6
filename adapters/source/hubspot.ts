/**
 * HubSpot CRM as a source: contacts, companies (any CRM v3 object type) and the association between two types,
 * read incrementally by a datetime property (`hs_lastmodifieddate`) through the CRM search API, with the official
 * @hubspot/api-client.
 *
 * URL: `hubspot://api.hubapi.com?tokenSecret=<name>` (HTTPS; the private-app token is the secret store's value for
 * `<name>`, never in the URL). For the local test server: `hubspot://127.0.0.1:<port>?tokenSecret=<name>&tls=false`
 * (plain HTTP is refused for anything but a loopback host: the token would travel in clear). Tuning, all optional:
 * `pageSize` (1-200, default 200), `timeoutMs` (default 30000: an attempt with no answer by then fails and is
 * retried like a 5xx, so a hung connection cannot stall a read), `attempts` (default 6), `retryBaseMs` (default
 * 1000), `retryMaxMs` (default 30000).
 *
 * Paging is by key, never by HubSpot's `after`: `after` is an offset into the results, and an object edited while a
 * window's pages are read leaves the results (its new stamp is past the window's end), shifting every row behind it
 * forward by one, so one row of the window would be skipped for good. Each page is instead a new search from the
 * last value written (`GTE` it, ids already written at it skipped); a value with more objects than a page is read
 * by `hs_object_id` the same way. No search uses `after`, so HubSpot's 10,000-result cap is never reached.
 *
 * Streams, by remoteName:
 * - an object type (`contacts`, `companies`): one row per object; column `id` is the object id, every other column
 *   the property of that name. The cursor is a datetime property of the object.
 * - `associations/<from>/<to>` (`associations/contacts/companies`): one row per associated pair and type, windowed by
 *   the `<from>` object's cursor property. Columns: `<from singular>_id`, `<to singular>_id` (`contact_id`,
 *   `company_id`), `association_type_id`, `association_category`, `association_label`, and the cursor (the `<from>`
 *   object's value). HubSpot does not always move an object's last-modified date when only its associations
 *   change, and a removed association leaves no row: such changes reach the lake with the object's next change (or
 *   a backfill), and removals need a reconcile by the reader.
 */
import type http from 'node:http';
import { Client } from '@hubspot/api-client';
import { csvLine, postgresCsvRecord } from '../csv.ts';
import { redactSecrets } from '../redact.ts';
import { networkErrorCode } from '../retry.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { integerParameter } from '../url.ts';
import {
  type HttpSettings,
  httpSettings,
  originOf,
  parseHttpSourceUrl,
  retryAfterMs,
  timeoutAgent,
  withDeadline,
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

export interface HubSpotSourceOptions {
  /** The setting holding the URL (`CRM_SOURCE_URL`), named in every error. */
  setting?: string;
  /** Resolves `tokenSecret=<name>`. */
  secrets?: SecretStore;
  /** The clock the safety lag is measured on (tests). */
  now?: () => Date;
  /** Told before each retry wait, with a message that never carries the token. */
  onRetry?: (message: string) => void;
}

interface HubSpotSettings extends HttpSettings {
  setting: string;
  display: string;
  basePath: string;
  tokenSecret: string;
  tls: boolean;
  pageSize: number;
}

const URL_FORM = {
  scheme: 'hubspot',
  exampleHost: 'api.hubapi.com',
  credential: 'token',
  secretParameter: 'tokenSecret',
  parameters: ['pageSize'],
};
const ASSOCIATION_COLUMNS = ['association_type_id', 'association_category', 'association_label'];

export function parseHubSpotUrl(url: string, setting = 'HubSpot source URL'): HubSpotSettings {
  const { display, parsed, secretName } = parseHttpSourceUrl(url, setting, URL_FORM);
  const { tls, origin } = originOf(setting, parsed);
  return {
    setting,
    display,
    basePath: origin,
    tokenSecret: secretName,
    tls,
    pageSize: integerParameter(setting, parsed.searchParams, 'pageSize', 200, 1, 200),
    ...httpSettings(setting, parsed.searchParams),
  };
}

/** An answer of the API other than success, worded without the token. */
export class HubSpotApiError extends Error {
  readonly status: number | undefined;
  readonly category: string | undefined;
  constructor(message: string, status?: number, category?: string) {
    super(message);
    this.name = 'HubSpotApiError';
    this.status = status;
    this.category = category;
  }
}

interface SdkError {
  code?: unknown;
  body?: unknown;
  headers?: Record<string, string>;
  message?: unknown;
}

const statusOf = (error: unknown): number | undefined => {
  const code = (error as SdkError | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** Retry-After, when a 429 or 503 carries one: the SDK keeps the answer's headers on its error. */
const retryAfterOf = (error: unknown) =>
  retryAfterMs((error as SdkError | undefined)?.headers?.['retry-after']);

type Row = (string | null)[];

interface SearchRow {
  id: string;
  properties: Record<string, string | null>;
}

interface Bound {
  operator: 'GT' | 'GTE';
  value: number;
}

/** Parsed remoteName: an object type, or an association from one type to another. */
type Remote = { kind: 'objects'; type: string } | { kind: 'associations'; from: string; to: string };

function parseRemote(stream: SourceStream): Remote {
  const association = /^associations\/([a-z0-9_]+)\/([a-z0-9_]+)$/i.exec(stream.remoteName);
  if (association)
    return { kind: 'associations', from: association[1] as string, to: association[2] as string };
  if (/^[a-z0-9_]+$/i.test(stream.remoteName)) return { kind: 'objects', type: stream.remoteName };
  throw new Error(
    `${stream.name}: remoteName "${stream.remoteName}" is neither an object type (contacts) nor associations/<from>/<to>`,
  );
}

/** `contacts` -> `contact`, `companies` -> `company`: the id columns of an association stream. */
const singular = (type: string) => type.replace(/ies$/, 'y').replace(/s$/, '');

function cursorMillis(stream: SourceStream, id: string, text: string | null | undefined): number {
  const value = text ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(value))
    throw new Error(
      `${stream.name}: object ${id} has no readable ${stream.cursor} (${JSON.stringify(text ?? null)})`,
    );
  return value;
}

export function openHubSpotSource(url: string, options: HubSpotSourceOptions = {}): SourceConnector {
  const settings = parseHubSpotUrl(url, options.setting);
  const now = options.now ?? (() => new Date());
  let client: Promise<{ sdk: Client; token: string }> | undefined;
  let agent: http.Agent | undefined;

  function connect() {
    client ??= (async () => {
      const secrets = options.secrets;
      if (!secrets)
        throw new Error(
          `${settings.setting}: tokenSecret=${settings.tokenSecret} needs a secret store (SECRETS_URL)`,
        );
      const token = (await secrets.get(settings.tokenSecret)).trim();
      // numberOfApiCallRetries stays 0: the SDK's own retry waits fixed times, ignores Retry-After and prints to
      // stderr; ours below honours Retry-After and words errors without the token.
      agent ??= timeoutAgent(settings.tls, settings.timeoutMs);
      const sdk = new Client({
        accessToken: token,
        basePath: settings.basePath,
        numberOfApiCallRetries: 0,
        httpAgent: agent,
      });
      return { sdk, token };
    })();
    client.catch(() => {
      client = undefined;
    });
    return client;
  }

  /** A message about an SDK failure, free of the token (the SDK's own message dumps bodies and headers). */
  function describe(what: string, error: unknown, attempts: number, token: string): HubSpotApiError {
    const status = statusOf(error);
    const body = (error as SdkError | undefined)?.body as
      | { message?: unknown; category?: unknown }
      | undefined;
    const category = typeof body?.category === 'string' ? body.category : undefined;
    const code = networkErrorCode(error);
    const detail =
      typeof body?.message === 'string'
        ? body.message
        : status !== undefined
          ? `HTTP ${status}`
          : code === 'ETIMEDOUT'
            ? `ETIMEDOUT (no answer within timeoutMs=${settings.timeoutMs})`
            : (code ?? String((error as SdkError | undefined)?.message ?? error));
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    let message: string;
    if (status === 401)
      message = `HubSpot refused the token of secret ${settings.tokenSecret} (HTTP 401${category ? ` ${category}` : ''}): ${detail}`;
    else if (status === 403)
      message = `HubSpot: the token of secret ${settings.tokenSecret} may not ${what} (HTTP 403): ${detail}`;
    else
      message = `HubSpot ${what} failed${tries}${status !== undefined ? ` (HTTP ${status}${category ? ` ${category}` : ''})` : ''}: ${detail}`;
    const clean = redactSecrets(token === '' ? message : message.replaceAll(token, '***'));
    return new HubSpotApiError(`${settings.setting} ${settings.display}: ${clean}`, status, category);
  }

  async function call<T>(what: string, fn: (sdk: Client) => Promise<T>): Promise<T> {
    const { sdk, token } = await connect();
    return withHttpRetry(() => withDeadline(fn(sdk), settings.timeoutMs), settings, {
      what: `HubSpot ${what}`,
      statusOf,
      retryAfterMsOf: retryAfterOf,
      describe: (error, attempts) => describe(what, error, attempts, token),
      onRetry: options.onRetry,
    });
  }

  async function search(
    type: string,
    request: {
      filters: { propertyName: string; operator: string; value: string }[];
      sort: { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' };
      properties: string[];
      limit: number;
    },
  ): Promise<{ total: number; results: SearchRow[]; next: string | undefined }> {
    const page = await call(`search of ${type}`, (sdk) =>
      sdk.crm.objects.searchApi.doSearch(type, {
        filterGroups: [{ filters: request.filters as never }],
        // HubSpot takes sort objects; the SDK's type says string but passes what it is given.
        sorts: [request.sort as never],
        properties: request.properties,
        limit: request.limit,
      }),
    );
    return {
      total: page.total,
      results: page.results.map((result) => ({ id: result.id, properties: result.properties ?? {} })),
      next: page.paging?.next?.after,
    };
  }

  /**
   * Every object of `type` whose cursor is in (lower, upper], in cursor order, each once, paged by key (see the
   * header). An edit during the read stamps the object with HubSpot's now, past `upper` (which trails now by the
   * safety lag): it leaves this window's results and is read by the next window; the rows read after it are not
   * moved, since each search starts from a value, not a position.
   */
  async function* objectsIn(
    stream: SourceStream,
    type: string,
    lower: number | null,
    upper: number,
    properties: string[],
  ): AsyncGenerator<{ row: SearchRow; value: number }> {
    const cursor = stream.cursor;
    let from: Bound | null = lower === null ? null : { operator: 'GT', value: lower };
    let lastValue: number | undefined;
    let idsAtLast = new Set<string>();
    for (;;) {
      const filters = [{ propertyName: cursor, operator: 'LTE', value: String(upper) }];
      if (from) filters.push({ propertyName: cursor, operator: from.operator, value: String(from.value) });
      const page = await search(type, {
        filters,
        sort: { propertyName: cursor, direction: 'ASCENDING' },
        properties,
        limit: settings.pageSize,
      });
      let firstValue: number | undefined;
      for (const row of page.results) {
        const value = cursorMillis(stream, row.id, row.properties[cursor]);
        firstValue ??= value;
        if (value === lastValue) {
          if (idsAtLast.has(row.id)) continue;
        } else if (lastValue === undefined || value > lastValue) {
          lastValue = value;
          idsAtLast = new Set();
        }
        idsAtLast.add(row.id);
        yield { row, value };
      }
      if (page.next === undefined || page.results.length < settings.pageSize || lastValue === undefined)
        return;
      if (firstValue === lastValue) {
        // A full page of one value: the value may hold more objects than a page, and another search from it
        // could answer the same page again. HubSpot takes one sort, so the value's ties are read in id order.
        yield* tiesById(stream, type, lastValue, idsAtLast, properties);
        from = { operator: 'GT', value: lastValue };
      } else {
        from = { operator: 'GTE', value: lastValue };
      }
    }
  }

  async function* tiesById(
    stream: SourceStream,
    type: string,
    value: number,
    written: Set<string>,
    properties: string[],
  ): AsyncGenerator<{ row: SearchRow; value: number }> {
    let lastId = '0';
    for (;;) {
      const page = await search(type, {
        filters: [
          { propertyName: stream.cursor, operator: 'EQ', value: String(value) },
          { propertyName: 'hs_object_id', operator: 'GT', value: lastId },
        ],
        sort: { propertyName: 'hs_object_id', direction: 'ASCENDING' },
        properties,
        limit: settings.pageSize,
      });
      for (const row of page.results) {
        lastId = row.id;
        if (written.has(row.id)) continue;
        written.add(row.id);
        yield { row, value };
      }
      if (page.results.length < settings.pageSize || page.next === undefined) return;
    }
  }

  /** The largest cursor value in (after, horizon], as HubSpot writes it, or null. */
  async function newest(stream: SourceStream, type: string, after: number | null, horizon: number) {
    const filters = [{ propertyName: stream.cursor, operator: 'LTE', value: String(horizon) }];
    if (after !== null) filters.push({ propertyName: stream.cursor, operator: 'GT', value: String(after) });
    const page = await search(type, {
      filters,
      sort: { propertyName: stream.cursor, direction: 'DESCENDING' },
      properties: [stream.cursor],
      limit: 1,
    });
    const row = page.results[0];
    if (!row) return null;
    const text = row.properties[stream.cursor] as string;
    return { text, value: cursorMillis(stream, row.id, text) };
  }

  async function* objectRows(
    stream: SourceStream,
    type: string,
    lower: number | null,
    upper: number,
  ): AsyncGenerator<{ values: Row; value: number }> {
    const properties = [...new Set([stream.cursor, ...stream.columns.filter((column) => column !== 'id')])];
    for await (const { row, value } of objectsIn(stream, type, lower, upper, properties)) {
      const values = stream.columns.map((column) =>
        column === 'id' ? row.id : (row.properties[column] ?? null),
      );
      yield { values, value };
    }
  }

  async function* associationRows(
    stream: SourceStream,
    from: string,
    to: string,
    lower: number | null,
    upper: number,
  ): AsyncGenerator<{ values: Row; value: number }> {
    const fromColumn = `${singular(from)}_id`;
    const toColumn = `${singular(to)}_id`;
    let batch: { row: SearchRow; value: number }[] = [];
    const flush = async function* () {
      const ids = batch.map(({ row }) => ({ id: row.id }));
      const byId = new Map(batch.map((entry) => [entry.row.id, entry]));
      batch = [];
      const answer = await call(`association read of ${from} to ${to}`, (sdk) =>
        sdk.crm.associations.v4.batchApi.getPage(from, to, { inputs: ids }),
      );
      // An id without associations comes back among `errors` (HTTP 207): nothing to write for it.
      for (const result of answer.results) {
        const entry = byId.get(String(result._from.id));
        if (!entry) continue;
        for (const target of result.to) {
          for (const type of target.associationTypes) {
            const values = stream.columns.map((column): string | null => {
              if (column === fromColumn) return entry.row.id;
              if (column === toColumn) return String(target.toObjectId);
              if (column === 'association_type_id') return String(type.typeId);
              if (column === 'association_category') return String(type.category);
              if (column === 'association_label') return type.label ?? null;
              return entry.row.properties[column] ?? null;
            });
            yield { values, value: entry.value };
          }
        }
      }
    };
    for await (const entry of objectsIn(stream, from, lower, upper, [stream.cursor])) {
      batch.push(entry);
      if (batch.length >= settings.pageSize) yield* flush();
    }
    if (batch.length > 0) yield* flush();
  }

  const propertyCache = new Map<string, Promise<Set<string>>>();
  function propertiesOf(type: string): Promise<Set<string>> {
    let names = propertyCache.get(type);
    if (!names) {
      names = call(`read of ${type} properties`, (sdk) => sdk.crm.properties.coreApi.getAll(type)).then(
        (answer) => new Set(answer.results.map((property) => property.name)),
      );
      names.catch(() => propertyCache.delete(type));
      propertyCache.set(type, names);
    }
    return names;
  }

  /** Problems of one stream, or [] when HubSpot has everything it names. A refused token throws at once. */
  async function problemsOf(stream: SourceStream): Promise<string[]> {
    let remote: Remote;
    try {
      remote = parseRemote(stream);
    } catch (error) {
      return [(error as Error).message];
    }
    const types = remote.kind === 'objects' ? [remote.type] : [remote.from, remote.to];
    const known = new Map<string, Set<string>>();
    for (const type of types) {
      try {
        known.set(type, await propertiesOf(type));
      } catch (error) {
        if (error instanceof HubSpotApiError && error.status === 401) throw error;
        return [`${stream.name}: HubSpot object type "${type}" cannot be read: ${(error as Error).message}`];
      }
    }
    const cursorType = remote.kind === 'objects' ? remote.type : remote.from;
    const properties = known.get(cursorType) as Set<string>;
    const problems: string[] = [];
    if (!properties.has(stream.cursor))
      problems.push(`${stream.name}: ${cursorType} has no property ${stream.cursor} (the cursor)`);
    const expected =
      remote.kind === 'objects'
        ? (column: string) => column === 'id' || properties.has(column)
        : (column: string) =>
            [
              `${singular(remote.from)}_id`,
              `${singular(remote.to)}_id`,
              ...ASSOCIATION_COLUMNS,
              stream.cursor,
            ].includes(column);
    const missing = stream.columns.filter((column) => !expected(column));
    if (missing.length > 0)
      problems.push(
        remote.kind === 'objects'
          ? `${stream.name}: ${remote.type} has no propert${missing.length === 1 ? 'y' : 'ies'} ${missing.join(', ')}`
          : `${stream.name}: an association stream has no column(s) ${missing.join(', ')}`,
      );
    return problems;
  }

  return {
    kind: 'hubspot',

    async check(streams) {
      const problems: string[] = [];
      const missing: string[] = [];
      for (const stream of streams) {
        const found = await problemsOf(stream);
        problems.push(...found);
        if (found.length > 0) missing.push(stream.remoteName);
      }
      if (problems.length > 0)
        throw new MissingStreamsError(
          `${settings.setting} ${settings.display} lacks what some streams read:\n  ${problems.join('\n  ')}`,
          missing,
        );
    },

    async readWindow(
      stream: SourceStream,
      request: WindowRequest,
      write: WindowWriter,
    ): Promise<SourceWindow> {
      const remote = parseRemote(stream);
      const cursorType = remote.kind === 'objects' ? remote.type : remote.from;
      const after = request.after === null ? null : Date.parse(request.after);
      if (after !== null && Number.isNaN(after))
        throw new Error(`${stream.name}: checkpoint "${request.after}" is not a ${stream.cursor} value`);
      const horizon = now().getTime() - request.safetyLagSeconds * 1000;
      const upTo = await newest(stream, cursorType, after, horizon);
      if (upTo === null) return { upTo: null, rereadFrom: null, rows: 0, reread: 0 };
      const lower = after === null ? null : after - request.lookbackSeconds * 1000;
      const rows =
        remote.kind === 'objects'
          ? objectRows(stream, remote.type, lower, upTo.value)
          : associationRows(stream, remote.from, remote.to, lower, upTo.value);
      let count = 0;
      let reread = 0;
      const counted = async function* () {
        for await (const row of rows) {
          count += 1;
          if (after !== null && row.value <= after) reread += 1;
          yield row.values;
        }
      };
      const iterator = counted();
      // The window's objects may have no associations at all: write only once a row exists.
      const first = await iterator.next();
      if (first.done) {
        return {
          upTo: upTo.text,
          rereadFrom: lower === null ? null : new Date(lower).toISOString(),
          rows: 0,
          reread: 0,
        };
      }
      const csv = async function* () {
        let chunk = csvLine(stream.columns) + postgresCsvRecord(first.value);
        for await (const values of { [Symbol.asyncIterator]: () => iterator }) {
          chunk += postgresCsvRecord(values);
          if (chunk.length >= 64 * 1024) {
            yield Buffer.from(chunk);
            chunk = '';
          }
        }
        if (chunk !== '') yield Buffer.from(chunk);
      };
      const written = await write(csv());
      if (written !== count)
        throw new Error(`${stream.name}: the writer counted ${written} rows, HubSpot gave ${count}`);
      return {
        upTo: upTo.text,
        rereadFrom: lower === null ? null : new Date(lower).toISOString(),
        rows: count,
        reread,
      };
    },

    /**
     * Objects without a cursor value, found with NOT_HAS_PROPERTY. HubSpot sets hs_lastmodifieddate on every write,
     * so this is 0 for it; a custom cursor property may be unset. Values in the future are not unreadable: HubSpot
     * stamps them with its own clock, so they are only ever ahead by clock skew and a later window reads them.
     */
    async unreadable(stream: SourceStream): Promise<UnreadableRows> {
      const remote = parseRemote(stream);
      const type = remote.kind === 'objects' ? remote.type : remote.from;
      const page = await call(`search of ${type}`, (sdk) =>
        sdk.crm.objects.searchApi.doSearch(type, {
          filterGroups: [
            { filters: [{ propertyName: stream.cursor, operator: 'NOT_HAS_PROPERTY' as never }] },
          ],
          properties: [stream.cursor],
          limit: 5,
        }),
      );
      return { count: page.total, sample: page.results.map((row) => `id=${row.id} ${stream.cursor}=null`) };
    },

    async close() {
      client = undefined;
      agent?.destroy();
      agent = undefined;
      propertyCache.clear();
    },
  };
}
