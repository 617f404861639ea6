import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { FIXTURE_NOW, openFixtureWarehouse } from '../monitor/test-fixtures.ts';
import { ledgerChecks } from './ledger-checks.ts';

describe('bronze freshness', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openFixtureWarehouse();
  });
  afterAll(async () => {
    await db.close();
  });

  it('owes no freshness for a further source never extracted, and still flags a core source never loaded', async () => {
    const freshness = (await ledgerChecks(db, FIXTURE_NOW)).filter(
      (finding) => finding.checkType === 'freshness',
    );
    const of = (table: string) => freshness.find((finding) => finding.tableName === `bronze.${table}`);
    expect(of('crm_contacts')).toMatchObject({
      passed: true,
      details: expect.stringContaining('CRM_SOURCE_URL is not set'),
    });
    expect(of('sales_history')).toMatchObject({
      passed: true,
      details: expect.stringContaining('HISTORY_SOURCE_URL is not set'),
    });
    expect(of('order_events')).toMatchObject({
      passed: false,
      details: expect.stringMatching(/^never loaded/),
    });
  });

  it('judges a further source by its SLA once it has a batch', async () => {
    await db.query(
      `insert into ops.batches (batch_id, source, source_kind, ingestion_date, raw_key, rows_raw, extracted_at, loaded_at)
       values ('crm_contacts_initial', 'crm_contacts', 'table', '2026-09-01', 'raw/x.csv', 1, $1, $1)`,
      [new Date(FIXTURE_NOW.getTime() - 5 * 3600 * 1000)],
    );
    const freshness = (await ledgerChecks(db, FIXTURE_NOW)).filter(
      (finding) => finding.checkType === 'freshness',
    );
    expect(freshness.find((finding) => finding.tableName === 'bronze.crm_contacts')).toMatchObject({
      passed: false,
      details: expect.stringMatching(/^last load 300 min ago/),
    });
  });
});
