import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { bronzeCount, type Finding } from '../ops/dq-findings.ts';
import { openGapFindings } from '../ops/stream-gaps.ts';

/** Freshness SLAs from the seeds: batch sources within 75 minutes, event streams within 5 minutes. */
export const FRESHNESS_SLA_MINUTES: Record<'table' | 'topic', number> = { table: 75, topic: 5 };

/**
 * Bronze checks that read the batch ledger: every batch reconciles (raw = staged + quarantined = loaded = rows in
 * bronze), schema drift is reported, each source has been loaded within its SLA, and no retention gap is open (a
 * topic's bronze table lacking events the broker deleted unread holds back what is built from it until the gap is
 * acknowledged: jobs/ops/stream-gaps.ts).
 */
export async function ledgerChecks(db: SqlDatabase, now: Date): Promise<Finding[]> {
  return [
    ...(await reconciliationChecks(db)),
    ...(await driftChecks(db)),
    ...(await freshnessChecks(db, now)),
    ...(await openGapFindings(db)),
  ];
}

async function reconciliationChecks(db: SqlDatabase): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const contract of DATA_CONTRACTS) {
    const mismatched = await db.query<{
      batch_id: string;
      rows_raw: number;
      rows_staged: number;
      rows_quarantined: number;
      rows_loaded: number;
      in_bronze: number;
    }>(
      `with bronze_rows as (
         select _batch_id as batch_id, count(*) as in_bronze from bronze.${contract.table} group by _batch_id
       )
       select b.batch_id, cast(b.rows_raw as integer) as rows_raw, cast(b.rows_staged as integer) as rows_staged,
         cast(b.rows_quarantined as integer) as rows_quarantined, cast(b.rows_loaded as integer) as rows_loaded,
         cast(coalesce(r.in_bronze, 0) as integer) as in_bronze
       from ops.batches b left join bronze_rows r on r.batch_id = b.batch_id
       where b.source = $1 and b.loaded_at is not null
         and (b.rows_raw <> b.rows_staged + b.rows_quarantined or b.rows_loaded <> b.rows_staged
              or coalesce(r.in_bronze, 0) <> b.rows_loaded)
       order by b.batch_id`,
      [contract.source],
    );
    findings.push({
      checkId: `bronze.${contract.table}:row_count_reconciliation`,
      layer: 'bronze',
      tableName: `bronze.${contract.table}`,
      checkType: 'row_count_reconciliation',
      severity: 'blocking',
      passed: mismatched.length === 0,
      failingRows: mismatched.length,
      details:
        mismatched.length === 0
          ? null
          : `batches not reconciling: ${mismatched
              .slice(0, 5)
              .map((row) => JSON.stringify(row))
              .join(', ')}`,
    });
  }
  return findings;
}

async function driftChecks(db: SqlDatabase): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const contract of DATA_CONTRACTS) {
    const [row] = await db.query<{ rescued: number }>(
      `select cast(count(*) as integer) as rescued from bronze.${contract.table} where _rescued_data is not null`,
    );
    const rescued = row?.rescued ?? 0;
    findings.push(
      bronzeCount(
        contract.table,
        'schema_drift',
        rescued,
        () => `${rescued} rows carry fields the contract does not declare (kept in _rescued_data)`,
      ),
    );
  }
  return findings;
}

async function freshnessChecks(db: SqlDatabase, now: Date): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const contract of DATA_CONTRACTS) {
    const kind = contract.format === 'csv' ? 'table' : 'topic';
    const [row] = await db.query<{ last_loaded: Date | null }>(
      'select max(loaded_at) as last_loaded from ops.batches where source = $1',
      [contract.source],
    );
    const lastLoaded = row?.last_loaded ? new Date(row.last_loaded) : null;
    const ageMinutes = lastLoaded
      ? (now.getTime() - lastLoaded.getTime()) / 60_000
      : Number.POSITIVE_INFINITY;
    const sla = FRESHNESS_SLA_MINUTES[kind];
    // A further source nobody configured has nothing to be fresh: said so, not reported stale every run.
    const unused = lastLoaded === null && contract.optionalSetting !== undefined;
    findings.push({
      checkId: `bronze.${contract.table}:freshness`,
      layer: 'bronze',
      tableName: `bronze.${contract.table}`,
      checkType: 'freshness',
      severity: 'warn',
      passed: unused || ageMinutes <= sla,
      failingRows: 0,
      details: lastLoaded
        ? `last load ${Math.round(ageMinutes)} min ago (SLA ${sla} min)`
        : unused
          ? `no batch yet: ${contract.optionalSetting} is not set, or its source was never extracted`
          : `never loaded (SLA ${sla} min)`,
    });
  }
  return findings;
}
