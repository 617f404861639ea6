// The CRM seeding against the HubSpot stand-in (scripts/services/hubspot-server.ts): each test makes its own portal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { CRM_CONTACT_SHARE, contactPlan, crmDraw, seedCrm } from './crm.ts';

const BASE = loadServiceEnv().TEST_HUBSPOT_URL;
const URL_OF = `hubspot://${new URL(BASE).host}?tokenSecret=HUBSPOT_TOKEN&tls=false`;

async function api(token: string, path: string, body: unknown) {
  const response = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text) as {
    token: string;
    total: number;
    results: { id: string; properties: Record<string, string | null>; from?: { id: string } }[];
  };
}

const portal = async () => (await api('', '/__test/portals', {})).token;

/** Every object of a type with the given properties, read by the documented search (ids ascending). */
async function all(token: string, type: string, properties: string[]) {
  const rows: { id: string; properties: Record<string, string | null> }[] = [];
  let lastId = '0';
  for (;;) {
    const page = await api(token, `/crm/v3/objects/${type}/search`, {
      filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'GT', value: lastId }] }],
      sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
      properties,
      limit: 200,
    });
    rows.push(...page.results);
    if (page.results.length < 200) return rows;
    lastId = page.results[page.results.length - 1]?.id as string;
  }
}

let source: SqlDatabase;

beforeAll(async () => {
  source = await openPglite('pglite://memory');
  await source.exec('create table customers (customer_id integer primary key, email varchar(255))');
  const values = Array.from(
    { length: 300 },
    (_, index) => `(${index + 1}, ' Customer.${index + 1}@Example.com ')`,
  ).join(', ');
  await source.exec(`insert into customers values ${values}, (301, 'not an email'), (302, null)`);
});

afterAll(async () => {
  await source.close();
});

describe('CRM seeding', () => {
  it('draws the same plan for a seed and another for another seed', () => {
    expect(crmDraw(42, 'contact', 7)).toBe(crmDraw(42, 'contact', 7));
    const plans = (seed: number) =>
      Array.from({ length: 300 }, (_, index) => contactPlan(seed, index + 1, 15));
    expect(plans(42)).toEqual(plans(42));
    expect(plans(42)).not.toEqual(plans(43));
    const share = plans(42).filter((plan) => plan !== null).length / 300;
    expect(share).toBeGreaterThan(CRM_CONTACT_SHARE - 0.1);
    expect(share).toBeLessThan(CRM_CONTACT_SHARE + 0.1);
  });

  it('seeds companies and contacts (same email as the customer) with their company and stages, idempotently', async () => {
    const token = await portal();
    const seeded = await seedCrm({ url: URL_OF, token, seed: 42, source });
    const expected = Array.from({ length: 300 }, (_, index) => index + 1).filter(
      (id) => contactPlan(42, id, seeded.companies) !== null,
    );
    expect(seeded.contacts).toBe(expected.length);
    expect(seeded.lifecycleChanges).toBeGreaterThan(0);
    expect(seeded.companies).toBe(Math.ceil((302 * CRM_CONTACT_SHARE) / 8));

    const contacts = await all(token, 'contacts', [
      'email',
      'lifecyclestage',
      'createdate',
      'hs_lastmodifieddate',
    ]);
    expect(contacts.map((row) => row.properties.email).sort()).toEqual(
      expected.map((id) => `customer.${id}@example.com`).sort(),
    );
    for (const row of contacts) {
      const id = Number(/customer\.(\d+)@/.exec(row.properties.email as string)?.[1]);
      const plan = contactPlan(42, id, seeded.companies);
      expect(row.properties.lifecyclestage).toBe(plan?.laterStage ?? plan?.stage);
      // A moved contact was written twice: its last change is after its creation.
      if (plan?.laterStage)
        expect(Date.parse(row.properties.hs_lastmodifieddate as string)).toBeGreaterThanOrEqual(
          Date.parse(row.properties.createdate as string),
        );
    }
    const companies = await all(token, 'companies', ['name', 'domain']);
    expect(companies).toHaveLength(seeded.companies);
    const read = await api(token, '/crm/v4/associations/contacts/companies/batch/read', {
      inputs: contacts.map((row) => ({ id: row.id })),
    });
    expect(read.results).toHaveLength(contacts.length);

    // A second run finds the companies and upserts the same contacts: nothing doubles.
    await seedCrm({ url: URL_OF, token, seed: 42, source });
    expect(await all(token, 'companies', ['domain'])).toHaveLength(seeded.companies);
    expect(await all(token, 'contacts', ['email'])).toHaveLength(contacts.length);
  });

  it('retries a rate limit, honouring Retry-After', async () => {
    const token = await portal();
    await api(token, '/__test/faults', { count: 2, status: 429, retryAfterSeconds: 0 });
    const seeded = await seedCrm({ url: URL_OF, token, seed: 7, source, retryBaseMs: 1 });
    expect(seeded.contacts).toBeGreaterThan(0);
  });
});
