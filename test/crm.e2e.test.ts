/**
 * The CRM end to end on the real services: the HubSpot stand-in (a portal of this test's own) and PostgreSQL.
 * `ecomm generate` with a CRM seeds the source, the topics and the portal; `ecomm run` extracts the CRM streams with
 * the OLTP tables and builds gold.dim_customers with each linked customer's lifecycle stage and company; a change
 * in HubSpot reaches it as a new version at the next run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as generateJob } from '../jobs/generate/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { openServerPlatform, type ServerPlatform, TEST_AS_OF } from './harness.ts';

const BASE = loadServiceEnv().TEST_HUBSPOT_URL;
const TOKEN_SECRET = 'CRM_E2E_HUBSPOT_TOKEN';

interface SearchPage {
  token: string;
  results: { id: string; properties: Record<string, string | null> }[];
}

async function hubspot(token: string, path: string, body: unknown): Promise<SearchPage> {
  const response = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text) as SearchPage;
}

/** Every contact's lifecycle stage by email, read through the documented search. */
async function stagesByEmail(token: string): Promise<Map<string, { id: string; stage: string | null }>> {
  const stages = new Map<string, { id: string; stage: string | null }>();
  let lastId = '0';
  for (;;) {
    const page = await hubspot(token, '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'GT', value: lastId }] }],
      sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
      properties: ['email', 'lifecyclestage'],
      limit: 200,
    });
    for (const row of page.results)
      stages.set(row.properties.email as string, {
        id: row.id,
        stage: row.properties.lifecyclestage ?? null,
      });
    if (page.results.length < 200) return stages;
    lastId = page.results[page.results.length - 1]?.id as string;
  }
}

type DimRow = {
  customer_id: number;
  version_number: number;
  lifecycle_stage: string | null;
  company_name: string | null;
  is_current: boolean;
  valid_from: Date;
  valid_to: Date | null;
};

describe('CRM (HubSpot) source end to end', () => {
  let platform: ServerPlatform;
  let token: string;
  let emails: Map<number, string>;

  const dim = () =>
    platform.warehouse.query<DimRow>(
      `select customer_id, version_number, lifecycle_stage, company_name, is_current, valid_from, valid_to
       from gold.dim_customers order by customer_id, version_number`,
    );

  beforeAll(async () => {
    token = (await hubspot('', '/__test/portals', {})).token;
    process.env[TOKEN_SECRET] = token;
    process.env.PII_HASH_KEY ??= 'crm-e2e-test-key';
    platform = await openServerPlatform('crm_e2e', {
      settings: { CRM_SOURCE_URL: `hubspot://${new URL(BASE).host}?tokenSecret=${TOKEN_SECRET}&tls=false` },
    });
    const lines: string[] = [];
    const context = platform.context();
    expect(
      await generateJob(context, { seed: 11, scale: 0.2, asOf: TEST_AS_OF }, (line) => lines.push(line)),
    ).toBe(0);
    await context.close();
    expect(
      lines.some((line) => /^seeded CRM +\d+ contacts, \d+ companies, \d+ lifecycle changes$/.test(line)),
    ).toBe(true);
    const customers = await platform.source.query<{ customer_id: number; email: string | null }>(
      'select customer_id, email from customers',
    );
    emails = new Map(customers.map((row) => [row.customer_id, (row.email ?? '').trim().toLowerCase()]));
    const result = await runPipeline(platform.context());
    expect(result.blockedBy).toEqual([]);
  }, 600_000);

  afterAll(async () => {
    await platform?.dispose();
    delete process.env[TOKEN_SECRET];
  });

  it('extracts the three CRM streams and loads them', async () => {
    const batches = await platform.warehouse.query<{ source: string; rows_loaded: number }>(
      `select source, cast(sum(rows_loaded) as integer) as rows_loaded from ops.batches
       where source like 'crm_%' group by source order by source`,
    );
    expect(batches.map((row) => row.source)).toEqual([
      'crm_companies',
      'crm_contact_companies',
      'crm_contacts',
    ]);
    for (const row of batches) expect(row.rows_loaded, row.source).toBeGreaterThan(0);
    const [pii] = await platform.warehouse.query<{ rows: number }>(
      'select cast(count(*) as integer) as rows from pii.crm_contacts where email is not null',
    );
    expect(pii?.rows).toBeGreaterThan(0);
  });

  it("carries each linked customer's HubSpot lifecycle stage and company, null for the others, one current row each", async () => {
    const stages = await stagesByEmail(token);
    const current = (await dim()).filter((row) => row.is_current);
    const [live] = await platform.warehouse.query<{ customers: number }>(
      'select cast(count(*) as integer) as customers from silver.customers where not is_deleted',
    );
    expect(current).toHaveLength(live?.customers as number);
    expect(new Set(current.map((row) => row.customer_id)).size).toBe(current.length);
    let linked = 0;
    for (const row of current) {
      const contact = stages.get(emails.get(row.customer_id) ?? '');
      expect(row.lifecycle_stage, `customer ${row.customer_id}`).toBe(contact?.stage ?? null);
      if (contact) {
        linked += 1;
        expect(row.company_name, `customer ${row.customer_id}`).toMatch(/ (Ltd|Inc|GmbH|SAS)$/);
      } else expect(row.company_name).toBeNull();
    }
    expect(linked).toBeGreaterThan(current.length * 0.25);
    expect(linked).toBeLessThan(current.length);
  });

  it('adds a version when a contact changes in HubSpot, at the next run', async () => {
    const before = await dim();
    const stages = await stagesByEmail(token);
    const target = before.find(
      (row) => row.is_current && row.lifecycle_stage !== null && row.lifecycle_stage !== 'evangelist',
    ) as DimRow;
    const contact = stages.get(emails.get(target.customer_id) as string);
    await hubspot(token, '/crm/v3/objects/contacts/batch/update', {
      inputs: [{ id: contact?.id, properties: { lifecyclestage: 'evangelist' } }],
    });
    const result = await runPipeline(platform.context());
    expect(result.blockedBy).toEqual([]);

    const after = await dim();
    const versions = (rows: DimRow[]) => rows.filter((row) => row.customer_id === target.customer_id);
    expect(versions(after)).toHaveLength(versions(before).length + 1);
    const [previous, latest] = versions(after).slice(-2) as [DimRow, DimRow];
    expect(latest).toMatchObject({ lifecycle_stage: 'evangelist', is_current: true, valid_to: null });
    expect(previous).toMatchObject({ lifecycle_stage: target.lifecycle_stage, is_current: false });
    expect(previous.valid_to).toEqual(latest.valid_from);
    // Nobody else changed, and still one current row per customer.
    expect(after.length).toBe(before.length + 1);
    expect(after.filter((row) => row.is_current)).toHaveLength(before.filter((row) => row.is_current).length);
  });
});
