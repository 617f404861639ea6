/**
 * `ecomm watchdog` (hourly): runs every check of rules.ts, the abandoned-runs check (abandoned-runs.ts) and the
 * consumer lag against each topic's retention (stream-retention.ts), records them in ops.dq_findings under the run id,
 * folds them (and the latest verdict of each blocking pipeline gate) into incidents, and delivers the alerts the
 * incidents call for, retrying the ones earlier runs could not deliver.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { type DeliveryReport, deliverPendingAlerts } from '../alerts/deliveries.ts';
import type { IncidentChanges, IncidentFinding } from '../alerts/incident-rows.ts';
import { reconcileIncidents } from '../alerts/incidents.ts';
import { LAYER_OWNERS } from '../alerts/owners.ts';
import { type AlertRouter, alertRouterFromConfig } from '../alerts/routing.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { KPI_CHECK_PREFIX } from '../kpis/alert-rules.ts';
import { recordFindings } from '../ops/dq-findings.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { qualityLineage } from '../quality/index.ts';
import { abandonedRunsCheck } from './abandoned-runs.ts';
import { runChecks, type WatchdogFinding } from './checks.ts';
import { realtimeReconciliationCheck } from './realtime-reconciliation.ts';
import { BUSINESS_RULES, type BusinessRule, TABLE_RULES, type TableRules } from './rules.ts';
import { streamRetentionChecks } from './stream-retention.ts';

export interface WatchdogOptions {
  tables?: TableRules[];
  rules?: BusinessRule[];
  /** Where alerts go; default: ALERT_ROUTES and the secret store. null: record incidents, queue alerts, send none. */
  router?: AlertRouter | null;
  /** Also raise incidents for blocking pipeline quality gates (ops.dq_findings) seen within this many hours (24). */
  gateLookbackHours?: number | null;
}

export interface WatchdogResult {
  findings: WatchdogFinding[];
  failed: WatchdogFinding[];
  /** The blocking pipeline gates folded into incidents (not re-recorded in dq_findings). */
  gates: IncidentFinding[];
  incidents: IncidentChanges;
  deliveries: DeliveryReport;
  /** Alerts still waiting after this run (failed or pending): the next run retries them. */
  undelivered: number;
}

/** The latest verdict of each blocking check the pipeline ran (quality, transform) within the lookback. */
export async function pipelineGateFindings(
  db: SqlDatabase,
  now: Date,
  lookbackHours: number,
): Promise<IncidentFinding[]> {
  const rows = await db.query<{
    check_id: string;
    layer: string;
    table_name: string;
    check_type: string;
    status: string;
    failing_rows: unknown;
    details: string | null;
  }>(
    `select check_id, layer, table_name, check_type, status, failing_rows, details from (
       select check_id, layer, table_name, check_type, status, failing_rows, details,
         row_number() over (partition by check_id order by checked_at desc, run_id desc) as recency
       from ops.dq_findings
       where checked_at >= $1 and severity = 'blocking' and check_id not like 'watchdog:%'
     ) latest
     where recency = 1
     order by check_id`,
    [new Date(now.getTime() - lookbackHours * 3_600_000)],
  );
  return rows.map((row) => ({
    checkId: row.check_id,
    checkType: row.check_type,
    tableName: row.table_name,
    severity: 'blocking',
    owner: LAYER_OWNERS[row.layer] ?? LAYER_OWNERS.bronze ?? 'data-platform',
    passed: row.status === 'pass',
    failingRows: Number(row.failing_rows),
    details: row.details,
  }));
}

export async function runWatchdog(
  context: JobContext,
  options: WatchdogOptions = {},
): Promise<WatchdogResult> {
  const db = await context.warehouse();
  const log = context.log.child({ job: 'watchdog' });
  const startedAt = context.now();
  try {
    const now = context.now();
    const findings = [
      ...(await runChecks(db, now, options.tables ?? TABLE_RULES, options.rules ?? BUSINESS_RULES)),
      await abandonedRunsCheck(db, now, context.config.RUN_LEASE_SECONDS),
      ...nonNull(await realtimeReconciliationCheck(db, context.config.KPI_RECONCILE_TOLERANCE)),
      ...(await streamRetentionChecks(context.stream(), {
        groupId: context.config.STREAM_GROUP_ID,
        topics: EVENT_TOPICS.map((topic) => topic.topic),
        now,
        alertShare: context.config.STREAM_RETENTION_ALERT_SHARE,
      })),
    ];
    await recordFindings(db, context.runId, findings, now);
    const failed = findings.filter((finding) => !finding.passed);
    for (const finding of failed) {
      log.warn(
        {
          step: 'checks',
          checkId: finding.checkId,
          severity: finding.severity,
          owner: finding.owner,
          details: finding.details,
        },
        'check failed',
      );
    }
    const lookback = options.gateLookbackHours === undefined ? 24 : options.gateLookbackHours;
    const gates = lookback === null ? [] : await pipelineGateFindings(db, now, lookback);
    const incidents = await reconcileIncidents(db, [...findings, ...gates], { runId: context.runId, now });
    for (const incident of incidents.opened)
      log.warn(
        { step: 'incidents', incidentId: incident.incident_id, checkId: incident.check_id },
        'incident opened',
      );
    for (const incident of incidents.resolved)
      log.info(
        { step: 'incidents', incidentId: incident.incident_id, checkId: incident.check_id },
        'incident resolved',
      );
    context.throwIfStopping();
    const router =
      options.router === undefined
        ? alertRouterFromConfig(context.config, context.secrets())
        : options.router;
    const deliveries = router
      ? await deliverPendingAlerts(db, router, {
          runId: context.runId,
          now: () => context.now(),
          signal: context.signal,
          log: log.child({ step: 'alerts' }),
          excludeCheckIdPrefix: KPI_CHECK_PREFIX,
        })
      : { delivered: 0, failed: 0, unrouted: 0, deferred: 0 };
    const [waiting] = await db.query<{ waiting: unknown }>(
      "select count(*) as waiting from ops.alert_deliveries where status in ('pending', 'failed')",
    );
    const undelivered = Number(waiting?.waiting ?? 0);
    const result: WatchdogResult = { findings, failed, gates, incidents, deliveries, undelivered };
    await recordRun(db, {
      runId: context.runId,
      job: 'watchdog',
      step: 'checks',
      status: 'succeeded',
      startedAt,
      finishedAt: context.now(),
      rowsIn: findings.length,
      rowsOut: failed.length,
      message:
        `${failed.length} of ${findings.length} checks failing; incidents ${incidents.opened.length} opened, ` +
        `${incidents.continuing.length} ongoing, ${incidents.resolved.length} resolved; alerts ${deliveries.delivered} ` +
        `delivered, ${deliveries.failed} failed, ${deliveries.unrouted} unrouted, ${undelivered} waiting`,
    });
    await qualityLineage(context, 'watchdog', findings, startedAt);
    log.info(
      {
        step: 'summary',
        checks: findings.length,
        failed: failed.length,
        opened: incidents.opened.length,
        resolved: incidents.resolved.length,
        alerts: deliveries,
        undelivered,
      },
      'watchdog finished',
    );
    return result;
  } catch (error) {
    await recordRun(db, {
      runId: context.runId,
      job: 'watchdog',
      step: 'checks',
      status: 'failed',
      startedAt,
      finishedAt: context.now(),
      message: (error as Error).message,
    });
    await qualityLineage(context, 'watchdog', [], startedAt, error);
    throw error;
  }
}

/**
 * `ecomm watchdog`: prints the failing checks and the incident and alert counts. Exit 0 when the watchdog ran
 * (failing checks are the alerts' business), 1 when alerts are still undelivered after the retries, so the
 * scheduler's own job-failure alarm is the last resort of an alert path that is down.
 */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  const result = await runWatchdog(context);
  for (const finding of result.failed) {
    output(
      `${finding.severity.toUpperCase().padEnd(8)} ${finding.checkId} (${finding.owner}): ${finding.details ?? ''}`,
    );
  }
  const { incidents, deliveries } = result;
  output(
    `watchdog: ${result.findings.length - result.failed.length}/${result.findings.length} checks passed; ` +
      `incidents ${incidents.opened.length} opened, ${incidents.continuing.length} ongoing, ${incidents.resolved.length} resolved`,
  );
  output(
    `alerts: ${deliveries.delivered} delivered, ${deliveries.failed} failed, ${deliveries.unrouted} unrouted, ` +
      `${result.undelivered} waiting for the next run`,
  );
  return result.undelivered > 0 ? 1 : 0;
}

const nonNull = <T>(value: T | null): T[] => (value === null ? [] : [value]);
