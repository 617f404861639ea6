/**
 * gold.dim_customers as SCD2 over the shop and the CRM, on hand-written bronze rows: the shop fixtures of
 * test-fixtures.ts plus HubSpot contacts, companies and associations linked to Jane (customer 1) and Bob (2) by
 * email; Carol (3) has no contact. Expected rows are worked out by hand from the rows below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { buildModels, createBronzeTables } from './build.ts';
import { loadModels, type Model } from './models.ts';
import { BRONZE_FIXTURES, loadBronzeFixtures } from './test-fixtures.ts';

type Row = Record<string, string | null>;

const load = (batch: string, ingestedAt: string) => ({
  _batch_id: batch,
  _source_file: `staging/${batch}.csv`,
  _ingested_at: ingestedAt,
});
const C1 = load('crm1', '2026-11-01 02:00:00+00');
const C2 = load('crm2', '2026-11-02 02:00:00+00');
const C3 = load('crm3', '2026-11-06 02:00:00+00');

const contact = (
  id: string,
  email: string | null,
  stage: string | null,
  modified: string,
  batch: Row,
): Row => ({
  id,
  email,
  lifecyclestage: stage,
  createdate: '2026-09-01T00:00:00.000Z',
  hs_lastmodifieddate: modified,
  ...batch,
});

const association = (
  contactId: string,
  companyId: string,
  type: string,
  modified: string,
  batch: Row,
): Row => ({
  contact_id: contactId,
  company_id: companyId,
  association_type_id: type,
  association_category: 'HUBSPOT_DEFINED',
  association_label: null,
  hs_lastmodifieddate: modified,
  ...batch,
});

const company = (id: string, name: string, modified: string, batch: Row): Row => ({
  id,
  name,
  domain: `${name.split(' ')[0]?.toLowerCase()}.test`,
  industry: 'RETAIL',
  createdate: '2026-08-01T00:00:00.000Z',
  hs_lastmodifieddate: modified,
  ...batch,
});

const CRM_FIXTURES: Record<string, Row[]> = {
  crm_companies: [
    company('5001', 'Acme Corp', '2026-09-01T00:00:00.000Z', C1),
    // Renamed later: every version of its customers shows the current name (company_name is type 1).
    company('5001', 'Acme Corporation', '2026-11-02T00:00:00.000Z', C3),
    company('5002', 'Globex', '2026-09-01T00:00:00.000Z', C1),
  ],
  crm_contacts: [
    // Jane, spelled as HubSpot keeps it: the same email hash as the shop's ' Jane.Doe@Example.com '.
    // A lead before her first shop version (2026-10-01 09:00): folds into version 1.
    contact('9001', 'jane.doe@example.com', 'lead', '2026-09-15T00:00:00.000Z', C1),
    // Becomes a customer between her two shop versions: a version of its own. Extracted twice (lookback).
    contact('9001', 'jane.doe@example.com', 'Customer', '2026-10-15T00:00:00.000Z', C1),
    contact('9001', 'jane.doe@example.com', 'Customer', '2026-10-15T00:00:00.000Z', C2),
    // Moves to Globex at the very time of her shop version 2: one version, not two.
    contact('9001', 'jane.doe@example.com', 'customer', '2026-11-01T12:00:00.000Z', C2),
    // A change of neither stage nor company (a name, say): no version.
    contact('9001', 'jane.doe@example.com', 'customer', '2026-11-03T00:00:00.000Z', C3),
    contact('9002', 'BOB.SMITH@shop.test', 'subscriber', '2026-11-05T00:00:00.000Z', C3),
    // No email: links to no customer.
    contact('9003', null, 'lead', '2026-11-05T00:00:00.000Z', C3),
  ],
  crm_contact_companies: [
    association('9001', '5001', '279', '2026-09-15T00:00:00.000Z', C1),
    association('9001', '5001', '1', '2026-09-15T00:00:00.000Z', C1),
    // 2026-10-15: no association rows read with it: the set read before (Acme) holds.
    association('9001', '5001', '279', '2026-11-01T12:00:00.000Z', C2),
    association('9001', '5002', '1', '2026-11-01T12:00:00.000Z', C2),
    association('9001', '5001', '279', '2026-11-03T00:00:00.000Z', C3),
    association('9001', '5002', '1', '2026-11-03T00:00:00.000Z', C3),
    association('9002', '5001', '1', '2026-11-05T00:00:00.000Z', C3),
  ],
};

let db: SqlDatabase;
let models: Model[];

const VERSION_SQL = `select version_number, city, lifecycle_stage, company_id::int as company_id, company_name,
    crm_contact_id::int as crm_contact_id, valid_from, valid_to, is_current
  from gold.dim_customers where customer_id = $1 order by version_number`;

beforeAll(async () => {
  db = await openPglite('pglite://memory');
  models = loadModels();
  await createBronzeTables(db);
  await loadBronzeFixtures(db, { ...BRONZE_FIXTURES, ...CRM_FIXTURES });
  await buildModels(db, models, { vars: {} });
});

afterAll(async () => {
  await db.close();
});

async function currentRowsPerCustomer() {
  return db.query<{ customer_id: number; current_rows: number }>(
    `select customer_id, sum(case when is_current then 1 else 0 end)::int as current_rows
     from gold.dim_customers group by customer_id order by customer_id`,
  );
}

describe('silver CRM models', () => {
  it('types and standardises the contacts, one version per (contact, hs_lastmodifieddate), with its company', async () => {
    const versions = await db.query(
      `select contact_id::int as contact_id, version_number, lifecycle_stage, company_id::int as company_id,
         updated_at, email_hash is not null as hashed, email_masked
       from silver.crm_contact_versions where contact_id = 9001 order by version_number`,
    );
    expect(versions.map((row) => [row.version_number, row.lifecycle_stage, row.company_id])).toEqual([
      [1, 'lead', 5001],
      [2, 'customer', 5001],
      [3, 'customer', 5002],
      [4, 'customer', 5002],
    ]);
    expect(versions[0]).toMatchObject({ hashed: true, email_masked: 'j***@example.com' });
    expect(
      await db.query(
        'select contact_id::int as id, version_number, company_id::int as company_id from silver.crm_contacts order by 1',
      ),
    ).toEqual([
      { id: 9001, version_number: 4, company_id: 5002 },
      { id: 9002, version_number: 1, company_id: 5001 },
      { id: 9003, version_number: 1, company_id: null },
    ]);
  });

  it('keeps the association sets per contact version, the primary company flagged, the latest set current', async () => {
    const current = await db.query(
      `select contact_id::int as contact_id, company_id::int as company_id, is_primary
       from silver.crm_contact_companies where is_current order by 1, 2`,
    );
    expect(current).toEqual([
      { contact_id: 9001, company_id: 5001, is_primary: false },
      { contact_id: 9001, company_id: 5002, is_primary: true },
      { contact_id: 9002, company_id: 5001, is_primary: true },
    ]);
    expect(
      await db.query('select company_id::int as id, company_name from silver.crm_companies order by 1'),
    ).toEqual([
      { id: 5001, company_name: 'Acme Corporation' },
      { id: 5002, company_name: 'Globex' },
    ]);
  });
});

describe('gold.dim_customers over the shop and the CRM', () => {
  it('versions a customer at each shop version and each change of its contact’s lifecycle stage or company', async () => {
    expect(await db.query(VERSION_SQL, [1])).toEqual([
      {
        version_number: 1,
        city: 'Paris',
        lifecycle_stage: 'lead',
        company_id: 5001,
        company_name: 'Acme Corporation',
        crm_contact_id: 9001,
        valid_from: new Date('2026-10-01T09:00:00Z'),
        valid_to: new Date('2026-10-15T00:00:00Z'),
        is_current: false,
      },
      {
        version_number: 2,
        city: 'Paris',
        lifecycle_stage: 'customer',
        company_id: 5001,
        company_name: 'Acme Corporation',
        crm_contact_id: 9001,
        valid_from: new Date('2026-10-15T00:00:00Z'),
        valid_to: new Date('2026-11-01T12:00:00Z'),
        is_current: false,
      },
      {
        version_number: 3,
        city: 'Lyon',
        lifecycle_stage: 'customer',
        company_id: 5002,
        company_name: 'Globex',
        crm_contact_id: 9001,
        valid_from: new Date('2026-11-01T12:00:00Z'),
        valid_to: null,
        is_current: true,
      },
    ]);
  });

  it('opens a version when a CRM change follows the shop’s last one (the earlier version without CRM values)', async () => {
    const bob = await db.query(VERSION_SQL, [2]);
    expect(
      bob.map((row) => [row.version_number, row.lifecycle_stage, row.company_name, row.is_current]),
    ).toEqual([
      [1, null, null, false],
      [2, 'subscriber', 'Acme Corporation', true],
    ]);
    expect(bob[0]?.valid_to).toEqual(new Date('2026-11-05T00:00:00Z'));
  });

  it('leaves a customer without a contact as the shop has it, its CRM columns null', async () => {
    expect(await db.query(VERSION_SQL, [3])).toEqual([
      {
        version_number: 1,
        city: 'London',
        lifecycle_stage: null,
        company_id: null,
        company_name: null,
        crm_contact_id: null,
        valid_from: new Date('2026-11-02T10:00:00Z'),
        valid_to: null,
        is_current: true,
      },
    ]);
  });

  it('has exactly one current row per customer', async () => {
    expect(await currentRowsPerCustomer()).toEqual([
      { customer_id: 1, current_rows: 1 },
      { customer_id: 2, current_rows: 1 },
      { customer_id: 3, current_rows: 1 },
    ]);
  });

  it('adds a version when a later extract brings a lifecycle change, closing the current one at its time', async () => {
    const C4 = load('crm4', '2026-11-12 02:00:00+00');
    await loadBronzeFixtures(db, {
      crm_contacts: [contact('9001', 'jane.doe@example.com', 'evangelist', '2026-11-10T00:00:00.000Z', C4)],
      crm_contact_companies: [association('9001', '5002', '1', '2026-11-10T00:00:00.000Z', C4)],
    });
    await buildModels(db, models, { vars: {} });
    const jane = await db.query(VERSION_SQL, [1]);
    expect(jane.map((row) => [row.version_number, row.lifecycle_stage, row.is_current])).toEqual([
      [1, 'lead', false],
      [2, 'customer', false],
      [3, 'customer', false],
      [4, 'evangelist', true],
    ]);
    expect(jane[2]?.valid_to).toEqual(new Date('2026-11-10T00:00:00Z'));
    expect(await currentRowsPerCustomer()).toEqual([
      { customer_id: 1, current_rows: 1 },
      { customer_id: 2, current_rows: 1 },
      { customer_id: 3, current_rows: 1 },
    ]);
  });

  it('closes a deleted customer at its deletion, leaving out a CRM change after it: no current row', async () => {
    // Bob deleted in the shop on 2026-11-04, before his contact's change of 2026-11-05.
    await db.exec(
      `insert into bronze.source_deletes (source, key_text, key_event, detected_at, last_updated_at, run_id, _batch_id)
       values ('customers', '2', 'deleted', '2026-11-04T00:00:00Z', '2026-11-01T08:00:00Z', 'run-1', 'tombstones-1')`,
    );
    await buildModels(db, models, { vars: {} });
    const bob = await db.query(
      'select version_number, lifecycle_stage, valid_to, is_current, is_deleted from gold.dim_customers where customer_id = 2',
    );
    expect(bob).toEqual([
      {
        version_number: 1,
        lifecycle_stage: null,
        valid_to: new Date('2026-11-04T00:00:00Z'),
        is_current: false,
        is_deleted: true,
      },
    ]);
    expect(await currentRowsPerCustomer()).toEqual([
      { customer_id: 1, current_rows: 1 },
      { customer_id: 2, current_rows: 0 },
      { customer_id: 3, current_rows: 1 },
    ]);
  });
});
