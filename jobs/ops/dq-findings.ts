/**
 * ops.dq_findings, the one table every data-quality verdict lands in: the pipeline's checks (quality, the transform's
 * gate, extract, reconcile, held-back batches) and the watchdog's. One writer for all of them, so a row is cut to
 * the table's columns the same way whoever checked.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

export type Layer = 'bronze' | 'silver' | 'gold';
export type Severity = 'blocking' | 'warn';

/** A pipeline check's verdict. */
export interface Finding {
  checkId: string;
  layer: Layer;
  tableName: string;
  checkType: string;
  severity: Severity;
  passed: boolean;
  failingRows: number;
  details: string | null;
}

/**
 * A warn check on one bronze table that counts failing rows: it passes at zero, and only a failure carries details
 * (made only then: they may need a query).
 */
export function bronzeCount(
  table: string,
  checkType: string,
  failingRows: number,
  details: () => string,
): Finding {
  return {
    checkId: `bronze.${table}:${checkType}`,
    layer: 'bronze',
    tableName: `bronze.${table}`,
    checkType,
    severity: 'warn',
    passed: failingRows === 0,
    failingRows,
    details: failingRows === 0 ? null : details(),
  };
}

/**
 * What one ops.dq_findings row records: a pipeline Finding, or a watchdog check, whose layer is any schema it
 * reads (ops too) and whose severity is an alert severity.
 */
export type FindingRecord = Omit<Finding, 'layer' | 'severity'> & { layer: string; severity: string };

/**
 * Characters kept of each text column, within its width in sql/ops/dq_findings.sql (a test holds them to it).
 * details keeps the margin every free-text column of ops keeps under its varchar(4096).
 */
export const FINDING_TEXT_LIMITS = {
  checkId: 512,
  layer: 16,
  tableName: 256,
  checkType: 64,
  severity: 16,
  details: 4000,
} as const;

export async function recordFindings(
  db: SqlDatabase,
  runId: string,
  findings: readonly FindingRecord[],
  at: Date,
): Promise<void> {
  const cut = (text: string, field: keyof typeof FINDING_TEXT_LIMITS) =>
    text.slice(0, FINDING_TEXT_LIMITS[field]);
  // One statement per chunk, not one per check: a transform records a few hundred findings.
  for (let start = 0; start < findings.length; start += FINDINGS_PER_INSERT) {
    const chunk = findings.slice(start, start + FINDINGS_PER_INSERT);
    const values = chunk.map((_, row) => {
      const first = row * FINDING_COLUMNS;
      return `(${Array.from({ length: FINDING_COLUMNS }, (_, column) => `$${first + column + 1}`).join(', ')})`;
    });
    await db.query(
      `insert into ops.dq_findings (run_id, check_id, layer, table_name, check_type, severity, status, failing_rows,
         details, checked_at)
       values ${values.join(',\n         ')}`,
      chunk.flatMap((finding) => [
        runId,
        cut(finding.checkId, 'checkId'),
        cut(finding.layer, 'layer'),
        cut(finding.tableName, 'tableName'),
        cut(finding.checkType, 'checkType'),
        cut(finding.severity, 'severity'),
        finding.passed ? 'pass' : 'fail',
        finding.failingRows,
        finding.details?.slice(0, FINDING_TEXT_LIMITS.details) ?? null,
        at,
      ]),
    );
  }
}

const FINDING_COLUMNS = 10;
/** Well under the bind-parameter limits of PostgreSQL (65,535) and Redshift (32,767). */
const FINDINGS_PER_INSERT = 200;

export function blockingFailures(findings: Finding[]): Finding[] {
  return findings.filter((finding) => !finding.passed && finding.severity === 'blocking');
}
