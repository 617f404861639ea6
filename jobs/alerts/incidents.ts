/**
 * Incidents: a check that fails is one incident from the first failing run until a run sees it pass, however many
 * runs fail in between (`occurrences`). Opening and resolving are the only moments that alert; the alerts are
 * queued in ops.alert_deliveries in the same transaction as the incident change, so a crash cannot lose one.
 */
import { randomUUID } from 'node:crypto';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { enqueueAlerts } from './deliveries.ts';
import {
  type IncidentChanges,
  type IncidentFinding,
  type IncidentRow,
  openIncidents,
} from './incident-rows.ts';

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
