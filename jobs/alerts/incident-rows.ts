/**
 * An incident as ops.incidents holds it: the row's shape, its select list and how a selected row is read back, and
 * the verdict of a check that opens, continues or resolves one. Incidents (the state changes), the alert outbox
 * and the channels' payloads all read these, so they live apart from each of them.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { AlertSeverity } from './routing.ts';

/** A check's verdict in one run, with whom it concerns. */
export interface IncidentFinding {
  checkId: string;
  checkType: string;
  tableName: string;
  severity: AlertSeverity;
  owner: string;
  passed: boolean;
  failingRows: number;
  details: string | null;
}

export interface IncidentRow {
  incident_id: string;
  check_id: string;
  check_type: string;
  table_name: string;
  status: 'open' | 'resolved';
  severity: AlertSeverity;
  owner: string;
  opened_at: Date;
  resolved_at: Date | null;
  opened_run_id: string;
  last_seen_run_id: string;
  resolved_run_id: string | null;
  last_seen_at: Date;
  occurrences: number;
  failing_rows: number;
  details: string | null;
}

export interface IncidentChanges {
  opened: IncidentRow[];
  /** Still failing: one more occurrence, no new alert (unless the severity now reaches a new channel). */
  continuing: IncidentRow[];
  resolved: IncidentRow[];
}

/** The select list of an incident row (`alias.` before every column when given). */
export function incidentColumns(alias?: string): string {
  const p = alias ? `${alias}.` : '';
  return [
    ...['incident_id', 'check_id', 'check_type', 'table_name', 'status', 'severity', 'owner', 'opened_at'],
    ...['resolved_at', 'opened_run_id', 'last_seen_run_id', 'resolved_run_id', 'last_seen_at', 'details'],
  ]
    .map((column) => `${p}${column}`)
    .concat([
      `cast(${p}occurrences as integer) as occurrences`,
      `cast(${p}failing_rows as integer) as failing_rows`,
    ])
    .join(', ');
}

export function incidentOf(row: Record<string, unknown>): IncidentRow {
  const date = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string));
  return {
    ...(row as unknown as IncidentRow),
    opened_at: date(row.opened_at) as Date,
    resolved_at: date(row.resolved_at),
    last_seen_at: date(row.last_seen_at) as Date,
    occurrences: Number(row.occurrences),
    failing_rows: Number(row.failing_rows),
  };
}

export async function openIncidents(db: SqlDatabase): Promise<IncidentRow[]> {
  const rows = await db.query(
    `select ${incidentColumns()} from ops.incidents where status = 'open' order by opened_at, incident_id`,
  );
  return rows.map(incidentOf);
}
