// A further source down or refusing never holds back the OLTP extract (or the other sources): its streams are
// reported (a failing warn finding each, `ecomm extract` exits 1) and their watermarks stay; and a window with a
// bound but no row moves the watermark without registering a batch whose object does not exist. Against the
// HubSpot stand-in (scripts/services/hubspot-server.ts, `npm run services:up`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../test/harness.ts';
import { createSourceSchema } from '../generate/index.ts';
import { run, runExtract } from './index.ts';

const HUBSPOT = new URL(loadServiceEnv().TEST_HUBSPOT_URL);
const TOKEN_SECRET = 'CRM_ISOLATION_TEST_TOKEN';
const crmUrl = `hubspot://${HUBSPOT.host}?tokenSecret=${TOKEN_SECRET}&tls=false&attempts=1`;

let platform: EmbeddedPlatform;

async function hubspot(token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, HUBSPOT), {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<{ token: string }>;
}

beforeAll(async () => {
  platform = await openEmbeddedPlatform();
  await createSourceSchema(platform.source);
  await platform.source.exec(
    "insert into fx_rates values ('2026-10-01', 'EUR', 1.08, now() - interval '1 day', now() - interval '1 day')",
  );
});

afterAll(async () => {
  delete process.env[TOKEN_SECRET];
  await platform?.close();
});

const settings = { SECRETS_URL: 'env://', CRM_SOURCE_URL: crmUrl };
const findingsOf = (checkType: string) =>
  platform.warehouse.query<{ table_name: string; status: string; details: string }>(
    'select table_name, status, details from ops.dq_findings where check_type = $1 order by table_name',
    [checkType],
  );

describe('extract with a further source', () => {
  it('extracts the OLTP tables when the CRM refuses its token, and reports the CRM streams', async () => {
    process.env[TOKEN_SECRET] = 'not-a-token-the-portal-knows';
    const lines: string[] = [];
    const exit = await run(platform.context({ settings }), {}, (line) => lines.push(line));
    expect(exit).toBe(1);
    expect(lines.find((line) => line.startsWith('extract fx_rates'))).toMatch(/1 rows -> raw\//);
    expect(lines.filter((line) => line.includes('NOT extracted'))).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('not-a-token-the-portal-knows');
    const unavailable = await findingsOf('source_unavailable');
    expect(unavailable.map((row) => [row.table_name, row.status])).toEqual([
      ['bronze.crm_companies', 'fail'],
      ['bronze.crm_contact_companies', 'fail'],
      ['bronze.crm_contacts', 'fail'],
    ]);
    expect(unavailable[0]?.details).toMatch(/CRM_SOURCE_URL: .*watermark kept|not extracted this run/);
    const [marks] = await platform.warehouse.query<{ n: number }>(
      "select cast(count(*) as integer) as n from ops.watermarks where source like 'crm_%'",
    );
    expect(marks?.n).toBe(0);
  });

  it('moves the watermark of a window holding no row without registering a batch', async () => {
    const { token } = await hubspot('', 'POST', '/__test/portals', { writableTimestamps: true });
    process.env[TOKEN_SECRET] = token;
    // A contact with no company: its association window has a bound (the contact's change) and no row.
    await hubspot(token, 'POST', '/crm/v3/objects/contacts/batch/create', {
      inputs: [
        {
          properties: {
            email: 'solo@example.com',
            lifecyclestage: 'lead',
            hs_lastmodifieddate: '2026-10-01T10:00:00.000Z',
            createdate: '2026-10-01T09:00:00.000Z',
          },
        },
      ],
    });
    const extracted = await runExtract(platform.context({ settings }));
    const of = (name: string) => extracted.find((table) => table.table === name);
    expect(of('crm_contacts')).toMatchObject({ rows: 1 });
    expect(of('crm_contacts')?.error).toBeUndefined();
    expect(of('crm_contact_companies')).toMatchObject({ rows: 0, batchId: null, rawKey: null });
    expect(of('crm_contact_companies')?.window.upTo).not.toBeNull();
    const batches = await platform.warehouse.query<{ source: string }>(
      "select source from ops.batches where source like 'crm_%' order by source",
    );
    expect(batches.map((row) => row.source)).toEqual(['crm_contacts']);
    const [mark] = await platform.warehouse.query<{ watermark_at: unknown }>(
      "select watermark_at from ops.watermarks where source = 'crm_contact_companies'",
    );
    expect(mark?.watermark_at).toBeDefined();
  });
});
