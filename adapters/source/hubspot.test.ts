// The HubSpot source against the local HubSpot stand-in (scripts/services/hubspot-server.ts, started by
// `npm run services:up`). Each test makes its own portal there, so tests never see each other's objects.
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openEnvSecrets } from '../secrets/env.ts';
import { openHubSpotSource } from './hubspot.ts';
import { openSourceConnector } from './index.ts';
import { MissingStreamsError, type SourceStream, type WindowRequest } from './source-connector.ts';

const BASE = loadServiceEnv().TEST_HUBSPOT_URL;
const T0 = Date.parse('2024-03-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

const CONTACTS: SourceStream = {
  name: 'crm_contacts',
  remoteName: 'contacts',
  columns: ['id', 'email', 'firstname', 'lifecyclestage', 'hs_lastmodifieddate'],
  primaryKey: ['id'],
  cursor: 'hs_lastmodifieddate',
};
const CONTACT_COMPANIES: SourceStream = {
  name: 'crm_contact_companies',
  remoteName: 'associations/contacts/companies',
  columns: ['contact_id', 'company_id', 'association_type_id', 'association_category', 'hs_lastmodifieddate'],
  primaryKey: ['contact_id', 'company_id', 'association_type_id'],
  cursor: 'hs_lastmodifieddate',
};

interface Answer {
  token: string;
  results: { id: string }[];
  searches: number;
  faultsServed: number;
  delaysServed: number;
  mutationsApplied: number;
  searchFilters: string[];
}

async function api(token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** A fresh portal whose seeding may set hs_lastmodifieddate (read-only in HubSpot). */
async function portal(options: { searchResultCap?: number } = {}): Promise<string> {
  const created = await api('', 'POST', '/__test/portals', { writableTimestamps: true, ...options });
  return created.token;
}

/** Creates contacts through the documented batch endpoint, 100 at a time; returns their ids in order. */
async function seedContacts(token: string, modifiedAt: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < modifiedAt.length; start += 100) {
    const inputs = modifiedAt.slice(start, start + 100).map((when, offset) => ({
      properties: {
        email: `c${start + offset}@example.com`,
        firstname: `First, "${start + offset}"`,
        lifecyclestage: 'lead',
        hs_lastmodifieddate: when,
        createdate: at(-1000),
      },
    }));
    const created = await api(token, 'POST', '/crm/v3/objects/contacts/batch/create', { inputs });
    ids.push(...created.results.map((result: { id: string }) => result.id));
  }
  return ids;
}

function source(
  token: string,
  parameters = '',
  extra: { onRetry?: (m: string) => void; now?: () => Date } = {},
) {
  const host = new URL(BASE).host;
  return openHubSpotSource(
    `hubspot://${host}?tokenSecret=HUBSPOT_TOKEN&tls=false&retryBaseMs=10${parameters}`,
    {
      secrets: openEnvSecrets('env://', { HUBSPOT_TOKEN: token }),
      now: extra.now ?? (() => new Date(T0 + 86_400_000)),
      ...(extra.onRetry ? { onRetry: extra.onRetry } : {}),
    },
  );
}

const FIRST: WindowRequest = { after: null, lookbackSeconds: 0, safetyLagSeconds: 0 };

/** Reads one window and parses the CSV it wrote (undefined when it wrote nothing). */
async function read(connector: ReturnType<typeof source>, stream: SourceStream, request: WindowRequest) {
  let records: Record<string, string>[] | undefined;
  let writes = 0;
  const window = await connector.readWindow(stream, request, async (csv) => {
    writes += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of csv) chunks.push(chunk);
    records = parse(Buffer.concat(chunks), { columns: true }) as Record<string, string>[];
    return records.length;
  });
  return { window, records, writes };
}

describe('HubSpot source', () => {
  it('pages through many search pages into one CSV with the stream columns, id as the key', async () => {
    const token = await portal();
    const ids = await seedContacts(
      token,
      Array.from({ length: 57 }, (_, i) => at(i)),
    );
    const connector = source(token, '&pageSize=5');
    const { window, records, writes } = await read(connector, CONTACTS, FIRST);
    expect(writes).toBe(1);
    expect(window).toEqual({ upTo: at(56), rereadFrom: null, rows: 57, reread: 0 });
    expect(records?.map((r) => r.id)).toEqual(ids);
    expect(Object.keys(records?.[3] ?? {})).toEqual(CONTACTS.columns);
    expect(records?.[3]).toMatchObject({
      email: 'c3@example.com',
      firstname: 'First, "3"',
      hs_lastmodifieddate: at(3),
    });
    const stats = await api(token, 'GET', '/__test/stats');
    expect(stats.searches).toBeGreaterThanOrEqual(12);
    // Nothing newer: no write, the checkpoint stays.
    const again = await read(connector, CONTACTS, { ...FIRST, after: window.upTo });
    expect(again.writes).toBe(0);
    expect(again.window.upTo).toBeNull();
  });

  it('reads a window larger than the search cap whole, ties on the boundaries neither split nor doubled', async () => {
    // The server's cap lowered to 20 (HubSpot's is 10,000) so crossing it takes 70 rows, not 10,001: the same
    // `after >= cap` refusal, at a size a test can seed.
    const token = await portal({ searchResultCap: 20 });
    const stamps = [
      ...Array.from({ length: 12 }, (_, i) => at(i)), // 12 distinct
      ...Array.from({ length: 14 }, () => at(100)), // a tie across the first cap (rows 12-25)
      ...Array.from({ length: 25 }, () => at(200)), // one value with more rows than the cap
      ...Array.from({ length: 9 }, (_, i) => at(300 + (i % 3))), // small ties
      ...Array.from({ length: 10 }, () => at(400)), // the window's last value
    ];
    // Interleave creation order so ids and cursor order differ.
    const order = stamps.map((_, i) => i).sort((a, b) => ((a * 7919) % 70) - ((b * 7919) % 70));
    const ids = await seedContacts(
      token,
      order.map((i) => stamps[i] as string),
    );
    const connector = source(token, '&pageSize=7');
    const { window, records } = await read(connector, CONTACTS, FIRST);
    expect(window.upTo).toBe(at(400));
    expect(window.rows).toBe(70);
    const got = records?.map((r) => r.id) ?? [];
    expect(new Set(got).size).toBe(70);
    expect([...got].sort()).toEqual([...ids].sort());
    const cursors = records?.map((r) => Date.parse(r.hs_lastmodifieddate as string)) ?? [];
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    // Every page a new search from the last value (GTE), the values with more rows than a page read by id; never
    // `after`, so never near the cap.
    const { searchFilters } = await api(token, 'GET', '/__test/stats');
    expect(searchFilters).toContain('hs_lastmodifieddate LTE AND hs_lastmodifieddate GTE');
    expect(searchFilters).toContain('hs_lastmodifieddate EQ AND hs_object_id GT');
    expect(searchFilters.filter((f) => f.includes('after='))).toEqual([]);
  });

  it('reads every row of a window once while rows are edited between its pages; the edited ones in the next window', async () => {
    const token = await portal();
    // 10 distinct values, then a tie run longer than a page (read by id), then 3 more values.
    const stamps = [
      ...Array.from({ length: 10 }, (_, i) => at(i)),
      ...Array.from({ length: 12 }, () => at(100)),
      ...Array.from({ length: 3 }, (_, i) => at(200 + i)),
    ];
    const ids = await seedContacts(token, stamps);
    const tie = ids.slice(10, 22);
    const moved = at(5000);
    // Request 1 finds the window's end, request 2 is the first page (rows 0-4). Then row 1, already written, is
    // edited: an offset would now skip row 5.
    await api(token, 'POST', '/__test/mutations', {
      afterRequests: 2,
      type: 'contacts',
      inputs: [{ id: ids[1], properties: { lifecyclestage: 'customer', hs_lastmodifieddate: moved } }],
    });
    // Request 6 is the first page of the tie run by id (requests 3-5: two pages by value, then the full page of
    // at(100) alone). Then a tie row it gave is edited, and one it has yet to reach.
    await api(token, 'POST', '/__test/mutations', {
      afterRequests: 6,
      type: 'contacts',
      inputs: [
        { id: tie[1], properties: { lifecyclestage: 'customer', hs_lastmodifieddate: moved } },
        { id: tie[8], properties: { lifecyclestage: 'customer', hs_lastmodifieddate: moved } },
      ],
    });
    const connector = source(token, '&pageSize=5');
    const first = await read(connector, CONTACTS, FIRST);
    const stats = await api(token, 'GET', '/__test/stats');
    expect(stats.mutationsApplied).toBe(2);
    expect(stats.searchFilters.slice(0, 7)).toEqual([
      'hs_lastmodifieddate LTE',
      'hs_lastmodifieddate LTE',
      'hs_lastmodifieddate LTE AND hs_lastmodifieddate GTE',
      'hs_lastmodifieddate LTE AND hs_lastmodifieddate GTE',
      'hs_lastmodifieddate LTE AND hs_lastmodifieddate GTE',
      'hs_lastmodifieddate EQ AND hs_object_id GT',
      'hs_lastmodifieddate EQ AND hs_object_id GT',
    ]);
    expect(stats.searchFilters.filter((f) => f.includes('after='))).toEqual([]);
    expect(first.window.upTo).toBe(at(202));
    const got = first.records?.map((r) => r.id) ?? [];
    // Every row still inside the window once; tie[8] left it before it was reached.
    const expected = ids.filter((id) => id !== tie[8]);
    expect(got).toHaveLength(expected.length);
    expect([...got].sort()).toEqual([...expected].sort());
    expect(first.records?.find((r) => r.id === ids[1])?.hs_lastmodifieddate).toBe(at(1));
    const second = await read(connector, CONTACTS, { ...FIRST, after: first.window.upTo });
    expect(second.window).toMatchObject({ upTo: moved, rows: 3 });
    expect(second.records?.map((r) => [r.id, r.lifecyclestage, r.hs_lastmodifieddate])).toEqual([
      [ids[1], 'customer', moved],
      [tie[1], 'customer', moved],
      [tie[8], 'customer', moved],
    ]);
  });

  it('abandons an attempt with no answer within timeoutMs and retries it', async () => {
    const token = await portal();
    await seedContacts(token, [at(1), at(2)]);
    await api(token, 'POST', '/__test/faults', { count: 1, delayMs: 3000 });
    const retries: string[] = [];
    const started = Date.now();
    const connector = source(token, '&timeoutMs=300', { onRetry: (m) => retries.push(m) });
    const { window } = await read(connector, CONTACTS, FIRST);
    expect(window.rows).toBe(2);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(retries).toEqual([
      expect.stringMatching(/search of contacts: ETIMEDOUT on attempt 1, retrying in/),
    ]);
    expect((await api(token, 'GET', '/__test/stats')).delaysServed).toBe(1);
    // Every attempt hung: the error says so, naming the setting.
    await api(token, 'POST', '/__test/faults', { count: 2, delayMs: 3000 });
    const hung = source(token, '&timeoutMs=200&attempts=2');
    const failure = await read(hung, CONTACTS, FIRST).catch((e: Error) => e);
    expect((failure as Error).message).toMatch(
      /HubSpot search of contacts failed after 2 attempts: ETIMEDOUT \(no answer within timeoutMs=200\)/,
    );
    await connector.close();
    await hung.close();
  });

  it('waits out a 429 as Retry-After says, then succeeds', async () => {
    const token = await portal();
    await seedContacts(token, [at(1), at(2)]);
    await api(token, 'POST', '/__test/faults', { count: 1, status: 429, retryAfterSeconds: 1 });
    const retries: string[] = [];
    const started = Date.now();
    const { window } = await read(source(token, '', { onRetry: (m) => retries.push(m) }), CONTACTS, FIRST);
    expect(window.rows).toBe(2);
    // retryBaseMs is 10: only Retry-After explains a wait of a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(retries).toEqual([expect.stringMatching(/429 on attempt 1, retrying in 1000 ms/)]);
    expect((await api(token, 'GET', '/__test/stats')).faultsServed).toBe(1);
  });

  it('retries 502s with backoff, then succeeds; gives up after its attempts with a message', async () => {
    const token = await portal();
    await seedContacts(token, [at(1), at(2), at(3)]);
    await api(token, 'POST', '/__test/faults', { count: 3, status: 502 });
    const retries: string[] = [];
    const { window } = await read(source(token, '', { onRetry: (m) => retries.push(m) }), CONTACTS, FIRST);
    expect(window.rows).toBe(3);
    expect(retries).toHaveLength(3);
    await api(token, 'POST', '/__test/faults', { count: 10, status: 503 });
    const failure = await read(source(token, '&attempts=3'), CONTACTS, FIRST).catch((e: Error) => e);
    expect((failure as Error).message).toMatch(
      /HubSpot search of contacts failed after 3 attempts \(HTTP 503\)/,
    );
  });

  it('names a refused token by its secret, never by its value, and does not retry it', async () => {
    const secretValue = 'pat-na1-0123456789abcdef-not-a-real-token';
    const connector = source(secretValue);
    const error = (await connector.check([CONTACTS]).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(
      /HubSpot refused the token of secret HUBSPOT_TOKEN \(HTTP 401 INVALID_AUTHENTICATION\)/,
    );
    expect(error.message).not.toContain(secretValue);
    expect(String(error.stack)).not.toContain(secretValue);
    const readError = (await read(connector, CONTACTS, FIRST).catch((e: Error) => e)) as Error;
    expect(readError.message).toMatch(/refused the token/);
    expect(readError.message).not.toMatch(/attempts/);
    expect(readError.message).not.toContain(secretValue);
  });

  it('re-reads the lookback behind the checkpoint: a late change with an older stamp is caught and counted', async () => {
    const token = await portal();
    const ids = await seedContacts(
      token,
      Array.from({ length: 10 }, (_, i) => at(i * 10)),
    );
    const connector = source(token, '&pageSize=3');
    const first = await read(connector, CONTACTS, FIRST);
    expect(first.window.upTo).toBe(at(90));
    // A change that committed late: stamped before the checkpoint. And one new change after it.
    await api(token, 'POST', '/crm/v3/objects/contacts/batch/update', {
      inputs: [
        { id: ids[2], properties: { lifecyclestage: 'customer', hs_lastmodifieddate: at(75) } },
        { id: ids[4], properties: { lifecyclestage: 'customer', hs_lastmodifieddate: at(120) } },
      ],
    });
    const withoutLookback = await read(connector, CONTACTS, { ...FIRST, after: at(90) });
    expect(withoutLookback.records?.map((r) => r.id)).toEqual([ids[4]]);
    const second = await read(connector, CONTACTS, {
      after: at(90),
      lookbackSeconds: 30,
      safetyLagSeconds: 0,
    });
    expect(second.window).toEqual({ upTo: at(120), rereadFrom: at(60), rows: 5, reread: 4 });
    expect(second.records?.map((r) => [r.id, r.hs_lastmodifieddate])).toEqual([
      [ids[7], at(70)],
      [ids[2], at(75)],
      [ids[8], at(80)],
      [ids[9], at(90)],
      [ids[4], at(120)],
    ]);
  });

  it('leaves changes newer than now minus the safety lag to a later window', async () => {
    const token = await portal();
    await seedContacts(token, [at(0), at(50), at(100)]);
    const connector = source(token, '', { now: () => new Date(T0 + 110_000) });
    const { window } = await read(connector, CONTACTS, { ...FIRST, safetyLagSeconds: 30 });
    expect(window).toMatchObject({ upTo: at(50), rows: 2 });
  });

  it('reads the contact-company association windowed by the contact, and writes nothing for none', async () => {
    const token = await portal();
    const [alice, bob, carol] = await seedContacts(token, [at(1), at(2), at(3)]);
    const companies = await api(token, 'POST', '/crm/v3/objects/companies/batch/create', {
      inputs: [{ properties: { name: 'Acme', domain: 'acme.test' } }, { properties: { name: 'Globex' } }],
    });
    const [acme, globex] = companies.results.map((result: { id: string }) => result.id);
    await api(token, 'POST', '/crm/v4/associations/contacts/companies/batch/create', {
      inputs: [
        {
          from: { id: alice },
          to: { id: acme },
          types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }],
        },
        {
          from: { id: alice },
          to: { id: globex },
          types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 }],
        },
        {
          from: { id: carol },
          to: { id: globex },
          types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 1 }],
        },
      ],
    });
    const connector = source(token, '&pageSize=2');
    await connector.check([CONTACTS, CONTACT_COMPANIES]);
    const { window, records } = await read(connector, CONTACT_COMPANIES, FIRST);
    expect(window).toMatchObject({ upTo: at(3), rows: 3 });
    expect(records).toEqual([
      {
        contact_id: alice,
        company_id: acme,
        association_type_id: '1',
        association_category: 'HUBSPOT_DEFINED',
        hs_lastmodifieddate: at(1),
      },
      {
        contact_id: alice,
        company_id: globex,
        association_type_id: '279',
        association_category: 'HUBSPOT_DEFINED',
        hs_lastmodifieddate: at(1),
      },
      {
        contact_id: carol,
        company_id: globex,
        association_type_id: '1',
        association_category: 'HUBSPOT_DEFINED',
        hs_lastmodifieddate: at(3),
      },
    ]);
    expect(bob).toBeDefined();
    const onlyBob = await read(connector, CONTACT_COMPANIES, { ...FIRST, after: at(1), safetyLagSeconds: 0 });
    expect(onlyBob.writes).toBe(1);
    const none = await read(source(token), CONTACT_COMPANIES, {
      ...FIRST,
      after: at(1),
      safetyLagSeconds: 86_400 - 2.5,
    });
    expect(none).toMatchObject({ writes: 0, window: { upTo: at(2), rows: 0 } });
  });

  it('check names the streams whose properties or object types HubSpot lacks; unreadable finds none', async () => {
    const token = await portal();
    await seedContacts(token, [at(1)]);
    const connector = source(token);
    const error = (await connector
      .check([
        CONTACTS,
        { ...CONTACTS, name: 'crm_bad', columns: ['id', 'email', 'favourite_colour'] },
        { ...CONTACTS, name: 'crm_deals', remoteName: 'widgets' },
        { ...CONTACT_COMPANIES, columns: [...CONTACT_COMPANIES.columns, 'weight'] },
      ])
      .catch((e: Error) => e)) as Error;
    expect(error).toBeInstanceOf(MissingStreamsError);
    expect((error as MissingStreamsError).missing).toEqual([
      'contacts',
      'widgets',
      'associations/contacts/companies',
    ]);
    expect(error.message).toContain('crm_bad: contacts has no property favourite_colour');
    expect(error.message).toMatch(/crm_deals: HubSpot object type "widgets" cannot be read/);
    expect(error.message).toContain('crm_contact_companies: an association stream has no column(s) weight');
    expect(error.message).not.toMatch(/^ {2}crm_contacts:/m);
    expect(await connector.unreadable(CONTACTS)).toEqual({ count: 0, sample: [] });
  });

  it('is opened by openSourceConnector for hubspot://, its errors naming the setting', async () => {
    const token = await portal();
    await seedContacts(token, [at(1)]);
    const url = `hubspot://${new URL(BASE).host}?tokenSecret=HUBSPOT_TOKEN&tls=false`;
    const connector = await openSourceConnector('CRM_SOURCE_URL', url, {
      secrets: openEnvSecrets('env://', { HUBSPOT_TOKEN: token }),
    });
    expect(connector.kind).toBe('hubspot');
    await connector.check([CONTACTS]);
    const refused = await openSourceConnector('CRM_SOURCE_URL', url, {
      secrets: openEnvSecrets('env://', { HUBSPOT_TOKEN: 'pat-wrong' }),
    });
    await expect(refused.check([CONTACTS])).rejects.toThrow(
      /^CRM_SOURCE_URL hubspot:\/\/127\.0\.0\.1:\d+\?tokenSecret=HUBSPOT_TOKEN&tls=false: HubSpot refused/,
    );
    await expect(openSourceConnector('CRM_SOURCE_URL', 'hubspot://x?tls=false')).rejects.toThrow(
      /^CRM_SOURCE_URL: /,
    );
  });

  it('refuses plain HTTP to anything but loopback, a token in the URL, and unknown parameters', () => {
    expect(() => openHubSpotSource('hubspot://api.hubapi.com?tokenSecret=T&tls=false')).toThrow(/loopback/);
    expect(() => openHubSpotSource('hubspot://u:pat-secret@api.hubapi.com?tokenSecret=T')).toThrow(
      /secret store/,
    );
    expect(() => openHubSpotSource('hubspot://api.hubapi.com?tokenSecret=T&token=pat-x')).toThrow(
      /unknown URL parameter\(s\) token in "hubspot:\/\/api\.hubapi\.com\?tokenSecret=T&token=\*\*\*"/,
    );
    expect(() => openHubSpotSource('hubspot://api.hubapi.com?tokenSecret=T&pageSize=500')).toThrow(
      /pageSize/,
    );
    expect(() => openHubSpotSource('hubspot://api.hubapi.com?tokenSecret=T&timeoutMs=0')).toThrow(
      /timeoutMs/,
    );
  });
});
