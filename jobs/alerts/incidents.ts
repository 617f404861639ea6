/**
 * Incidents: a check that fails is one incident from the first failing run until a run sees it pass, however many
 * runs fail in between (`occurrences`). Opening and resolving are the only moments that alert; the alerts are
 * queued in ops.alert_deliveries in the same transaction as the incident change, so a crash cannot lose one.
 */
import { randomUUID } from 'node:crypto';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { enqueueAlerts } from './deliveries.ts';
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

/**
 * Applies one run's findings to the incidents and queues the alerts the changes call for. Checks absent from the
 * findings are left as they are (a check that did not run neither fails nor passes).
 */
export async function reconcileIncidents(
  db: SqlDatabase,
  findings: IncidentFinding[],
  run: { runId: string; now: Date },
): Promise<IncidentChanges> {
  return db.transaction(async (tx) => {
    const open = new Map((await openIncidents(tx)).map((incident) => [incident.check_id, incident]));
    const changes: IncidentChanges = { opened: [], continuing: [], resolved: [] };
    for (const finding of findings) {
      const current = open.get(finding.checkId);
      const details = finding.details?.slice(0, 4000) ?? null;
      if (!finding.passed && !current) {
        const incident: IncidentRow = {
          incident_id: randomUUID(),
          check_id: finding.checkId,
          check_type: finding.checkType,
          table_name: finding.tableName,
          status: 'open',
          severity: finding.severity,
          owner: finding.owner,
          opened_at: run.now,
          resolved_at: null,
          opened_run_id: run.runId,
          last_seen_run_id: run.runId,
          resolved_run_id: null,
          last_seen_at: run.now,
          occurrences: 1,
          failing_rows: finding.failingRows,
          details,
        };
        await tx.query(
          `insert into ops.incidents (incident_id, check_id, check_type, table_name, status, severity, owner, opened_at,
             resolved_at, opened_run_id, last_seen_run_id, last_seen_at, occurrences, failing_rows, details)
           values ($1, $2, $3, $4, 'open', $5, $6, $7, null, $8, $8, $7, 1, $9, $10)`,
          [
            incident.incident_id,
            incident.check_id,
            incident.check_type,
            incident.table_name,
            incident.severity,
            incident.owner,
            run.now,
            run.runId,
            incident.failing_rows,
            details,
          ],
        );
        open.set(finding.checkId, incident);
        changes.opened.push(incident);
      } else if (!finding.passed && current) {
        if (current.last_seen_run_id === run.runId) continue; // the same run reporting twice
        const incident: IncidentRow = {
          ...current,
          severity: finding.severity,
          owner: finding.owner,
          last_seen_run_id: run.runId,
          last_seen_at: run.now,
          occurrences: current.occurrences + 1,
          failing_rows: finding.failingRows,
          details,
        };
        await tx.query(
          `update ops.incidents set severity = $2, owner = $3, last_seen_run_id = $4, last_seen_at = $5,
             occurrences = occurrences + 1, failing_rows = $6, details = $7
           where incident_id = $1`,
          [
            incident.incident_id,
            incident.severity,
            incident.owner,
            run.runId,
            run.now,
            finding.failingRows,
            details,
          ],
        );
        open.set(finding.checkId, incident);
        changes.continuing.push(incident);
      } else if (finding.passed && current) {
        const incident: IncidentRow = {
          ...current,
          status: 'resolved',
          resolved_at: run.now,
          resolved_run_id: run.runId,
        };
        await tx.query(
          `update ops.incidents set status = 'resolved', resolved_at = $2, resolved_run_id = $3 where incident_id = $1`,
          [incident.incident_id, run.now, run.runId],
        );
        open.delete(finding.checkId);
        changes.resolved.push(incident);
      }
    }
    await enqueueAlerts(tx, changes, run);
    return changes;
  });
}
