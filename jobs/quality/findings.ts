import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

export type Layer = 'bronze' | 'silver' | 'gold';
export type Severity = 'blocking' | 'warn';

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

export async function recordFindings(
  db: SqlDatabase,
  runId: string,
  findings: Finding[],
  at: Date,
): Promise<void> {
  for (const finding of findings) {
    await db.query(
      `insert into ops.dq_findings (run_id, check_id, layer, table_name, check_type, severity, status, failing_rows,
         details, checked_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        runId,
        finding.checkId,
        finding.layer,
        finding.tableName,
        finding.checkType,
        finding.severity,
        finding.passed ? 'pass' : 'fail',
        finding.failingRows,
        finding.details?.slice(0, 4000) ?? null,
        at,
      ],
    );
  }
}

export function blockingFailures(findings: Finding[]): Finding[] {
  return findings.filter((finding) => !finding.passed && finding.severity === 'blocking');
}
