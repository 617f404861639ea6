/**
 * The watchdog's check for runs that died: a run row still `running` whose heartbeat is older than the lease is
 * marked abandoned (a `kill -9`, a lost node, an out-of-memory kill leave it so), and the check fails while the
 * latest `ecomm run` is abandoned or a lease is held past its expiry, so someone hears about it (an incident, a page)
 * until a run completes again.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { OWNERS } from '../alerts/owners.ts';
import { markAbandonedRuns, RUN_ROW } from '../ops/pipeline-runs.ts';
import { expiredLeases } from '../ops/run-lease.ts';
import type { WatchdogFinding } from './checks.ts';

export const ABANDONED_RUNS_CHECK = 'watchdog:abandoned_runs';

export async function abandonedRunsCheck(
  db: SqlDatabase,
  now: Date,
  leaseSeconds: number,
): Promise<WatchdogFinding> {
  const finding = {
    checkId: ABANDONED_RUNS_CHECK,
    checkType: 'abandoned_run' as const,
    tableName: 'ops.pipeline_runs',
    layer: 'ops',
    owner: OWNERS.platform,
    severity: 'critical' as const,
  };
  const marked = await markAbandonedRuns(db, now, leaseSeconds);
  const leases = await expiredLeases(db, now);
  const [latest] = await db.query<{ run_id: string; status: string; message: string | null }>(
    `select run_id, status, message from ops.pipeline_runs where job = $1 and step = $2
     order by started_at desc, run_id desc limit 1`,
    [RUN_ROW.job, RUN_ROW.step],
  );
  const problems = [
    ...marked.map(
      (run) =>
        `run ${run.runId} (ecomm ${run.job}, started ${run.startedAt.toISOString()}) marked abandoned: no heartbeat since ${(run.heartbeatAt ?? run.startedAt).toISOString()}`,
    ),
    ...leases.map(
      (lease) =>
        `lease ${lease.name} still held by run ${lease.runId} (ecomm ${lease.job}), expired ${lease.expiresAt.toISOString()}`,
    ),
  ];
  if (latest?.status === 'abandoned' && !marked.some((run) => run.runId === latest.run_id))
    problems.push(`the latest run ${latest.run_id} was abandoned and no run has finished since`);
  return {
    ...finding,
    passed: problems.length === 0,
    failingRows: problems.length,
    details: problems.length === 0 ? null : problems.join('; ').slice(0, 4000),
  };
}
