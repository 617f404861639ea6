import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { FINDING_TEXT_LIMITS, type Finding, type FindingRecord, recordFindings } from './dq-findings.ts';
import { ensureWarehouseSchema, parseDeclaredTable } from './warehouse-schema.ts';

const DDL = new URL('../../sql/ops/dq_findings.sql', import.meta.url);

const COLUMN_OF: Record<keyof typeof FINDING_TEXT_LIMITS, string> = {
  checkId: 'check_id',
  layer: 'layer',
  tableName: 'table_name',
  checkType: 'check_type',
  severity: 'severity',
  details: 'details',
};

describe('the ops.dq_findings writer', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it('cuts every text field within its column of sql/ops/dq_findings.sql', () => {
    const table = parseDeclaredTable('dq_findings.sql', readFileSync(DDL, 'utf8'));
    for (const [field, limit] of Object.entries(FINDING_TEXT_LIMITS)) {
      const column = COLUMN_OF[field as keyof typeof FINDING_TEXT_LIMITS];
      const definition = table.columns.find((candidate) => candidate.name === column)?.definition ?? '';
      const width = Number(/varchar\((\d+)\)/i.exec(definition)?.[1]);
      expect(width, column).toBeGreaterThan(0);
      expect(limit, column).toBeLessThanOrEqual(width);
    }
  });

  it("writes a pipeline finding and a watchdog check alike, each field cut to its column's limit", async () => {
    const pipeline: Finding = {
      checkId: 'silver.orders:not_null:order_id',
      layer: 'silver',
      tableName: 'silver.orders',
      checkType: 'not_null',
      severity: 'blocking',
      passed: false,
      failingRows: 3,
      details: 'x'.repeat(5000),
    };
    const watchdog: FindingRecord = {
      checkId: `watchdog:${'c'.repeat(600)}`,
      layer: 'operational-metadata',
      tableName: `ops.${'t'.repeat(300)}`,
      checkType: `business_rule_${'r'.repeat(80)}`,
      severity: 'critical',
      passed: true,
      failingRows: 0,
      details: null,
    };
    await recordFindings(db, '00000000-0000-4000-8000-000000000001', [pipeline, watchdog], new Date());
    const rows = await db.query<Record<string, string | null>>(
      `select check_id, layer, table_name, check_type, severity, status, details from ops.dq_findings
       order by check_id`,
    );
    expect(rows).toHaveLength(2);
    const [written, checked] = rows;
    expect(written).toMatchObject({ check_id: pipeline.checkId, status: 'fail', severity: 'blocking' });
    expect(written?.details).toHaveLength(FINDING_TEXT_LIMITS.details);
    expect(checked?.check_id).toHaveLength(FINDING_TEXT_LIMITS.checkId);
    expect(checked?.layer).toBe('operational-meta');
    expect(checked?.table_name).toHaveLength(FINDING_TEXT_LIMITS.tableName);
    expect(checked?.check_type).toHaveLength(FINDING_TEXT_LIMITS.checkType);
    expect(checked).toMatchObject({ status: 'pass', details: null });
  });
});
