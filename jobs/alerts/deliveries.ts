/**
 * The alert outbox (ops.alert_deliveries): one row per incident, channel and action, written with the incident
 * change, then delivered with retries. A delivery that still fails stays `failed` with its attempts and last
 * error, and the next watchdog run tries it again; nothing is dropped silently. Per incident and channel the
 * alerts go out in order: a resolve waits while its trigger is undelivered.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { withRetry } from '../../adapters/retry.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { isRetryableDelivery, pagerdutyPayload, postJson, slackPayload } from './channels.ts';
import { type IncidentChanges, type IncidentRow, incidentColumns, incidentOf } from './incident-rows.ts';
import { type AlertAction, type AlertChannel, type AlertRouter, SEVERITY_CHANNELS } from './routing.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'unrouted';

export interface DeliveryRow {
  delivery_id: string;
  incident_id: string;
  channel: AlertChannel;
  action: AlertAction;
  route: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  run_id: string;
}

async function existingDeliveries(
  db: SqlDatabase,
  incidentId: string,
): Promise<{ channel: AlertChannel; action: AlertAction }[]> {
  return db.query<{ channel: AlertChannel; action: AlertAction }>(
    'select channel, action from ops.alert_deliveries where incident_id = $1',
    [incidentId],
  );
}

async function insertDelivery(
  db: SqlDatabase,
  incident: IncidentRow,
  channel: AlertChannel,
  action: AlertAction,
  run: { runId: string; now: Date },
): Promise<void> {
  await db.query(
    `insert into ops.alert_deliveries (delivery_id, incident_id, channel, action, route, status, attempts, last_error,
       run_id, created_at, updated_at, delivered_at)
     values ($1, $2, $3, $4, $5, 'pending', 0, null, $6, $7, $7, null)`,
    [randomUUID(), incident.incident_id, channel, action, incident.owner, run.runId, run.now],
  );
}

/**
 * Queues the alerts of incident changes, at most one per incident, channel and action: a trigger on every channel
 * of the severity (a continuing incident whose severity grew gets the new channels' triggers), a resolve on every
 * channel that was triggered.
 */
export async function enqueueAlerts(
  db: SqlDatabase,
  changes: IncidentChanges,
  run: { runId: string; now: Date },
): Promise<void> {
  for (const incident of [...changes.opened, ...changes.continuing]) {
    const existing = await existingDeliveries(db, incident.incident_id);
    for (const channel of SEVERITY_CHANNELS[incident.severity]) {
      if (existing.some((row) => row.channel === channel && row.action === 'trigger')) continue;
      await insertDelivery(db, incident, channel, 'trigger', run);
    }
  }
  for (const incident of changes.resolved) {
    const existing = await existingDeliveries(db, incident.incident_id);
    const triggered = new Set(existing.filter((row) => row.action === 'trigger').map((row) => row.channel));
    for (const channel of triggered) {
      if (existing.some((row) => row.channel === channel && row.action === 'resolve')) continue;
      await insertDelivery(db, incident, channel, 'resolve', run);
    }
  }
}

export interface DeliveryReport {
  delivered: number;
  failed: number;
  unrouted: number;
  /** Waiting behind an undelivered earlier alert of the same incident and channel. */
  deferred: number;
}

/** Sends every pending or failed alert, oldest first. */
export async function deliverPendingAlerts(
  db: SqlDatabase,
  router: AlertRouter,
  options: {
    runId: string;
    now: () => Date;
    signal?: AbortSignal;
    log?: Logger;
    /** Only the incidents whose check id starts with this (the stream service delivers its KPI alerts itself). */
    checkIdPrefix?: string;
    /** All but those: the watchdog leaves the KPI alerts to the stream service, so no alert is sent twice. */
    excludeCheckIdPrefix?: string;
  },
): Promise<DeliveryReport> {
  const filters = [
    options.checkIdPrefix === undefined ? '' : 'and i.check_id like $1',
    options.excludeCheckIdPrefix === undefined
      ? ''
      : `and i.check_id not like $${options.checkIdPrefix === undefined ? 1 : 2}`,
  ].join(' ');
  const prefixes = [options.checkIdPrefix, options.excludeCheckIdPrefix].flatMap((prefix) =>
    prefix === undefined ? [] : [`${prefix}%`],
  );
  const rows = await db.query(
    `select d.delivery_id, d.channel, d.action, d.route, cast(d.attempts as integer) as attempts,
       ${incidentColumns('i')}
     from ops.alert_deliveries d join ops.incidents i on i.incident_id = d.incident_id
     where d.status in ('pending', 'failed') ${filters}
     order by d.created_at, d.incident_id, d.channel, case when d.action = 'trigger' then 0 else 1 end, d.delivery_id`,
    prefixes,
  );
  const report: DeliveryReport = { delivered: 0, failed: 0, unrouted: 0, deferred: 0 };
  const blocked = new Set<string>();
  for (const row of rows) {
    const incident = incidentOf(row);
    const channel = row.channel as AlertChannel;
    const action = row.action as AlertAction;
    const deliveryId = row.delivery_id as string;
    const key = `${incident.incident_id}|${channel}`;
    if (blocked.has(key)) {
      report.deferred += 1;
      continue;
    }
    const log = options.log?.child({ step: 'alert', incidentId: incident.incident_id, channel, action });
    const send = await sender(router, channel, incident, action, options.runId);
    if (!send) {
      await db.query(
        `update ops.alert_deliveries set status = 'unrouted', last_error = $2, run_id = $3, updated_at = $4
         where delivery_id = $1`,
        [
          deliveryId,
          `no ${channel} target configured for owner ${incident.owner}`,
          options.runId,
          options.now(),
        ],
      );
      log?.warn({ owner: incident.owner }, 'alert not routed: channel not configured for this owner');
      report.unrouted += 1;
      continue;
    }
    let tries = 0;
    try {
      await withRetry(
        async (attempt) => {
          tries = attempt;
          await send(router.timeoutMs, options.signal);
        },
        {
          ...router.retry,
          isRetryable: isRetryableDelivery,
          signal: options.signal,
          onRetry: (error, attempt, delayMs) =>
            log?.warn(
              { attempt, delayMs, error: (error as Error).message },
              'alert delivery failed, retrying',
            ),
        },
      );
      await db.query(
        `update ops.alert_deliveries set status = 'delivered', attempts = attempts + $2, last_error = null, run_id = $3,
           updated_at = $4, delivered_at = $4
         where delivery_id = $1`,
        [deliveryId, tries, options.runId, options.now()],
      );
      log?.info({ attempts: tries }, 'alert delivered');
      report.delivered += 1;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      await db.query(
        `update ops.alert_deliveries set status = 'failed', attempts = attempts + $2, last_error = $3, run_id = $4,
           updated_at = $5
         where delivery_id = $1`,
        [deliveryId, tries, (error as Error).message.slice(0, 4000), options.runId, options.now()],
      );
      log?.error(
        { attempts: tries, error: (error as Error).message },
        'alert not delivered; kept for the next run',
      );
      blocked.add(key);
      report.failed += 1;
    }
  }
  return report;
}

type Send = (timeoutMs: number, signal?: AbortSignal) => Promise<void>;

async function sender(
  router: AlertRouter,
  channel: AlertChannel,
  incident: IncidentRow,
  action: AlertAction,
  runId: string,
): Promise<Send | null> {
  if (channel === 'slack') {
    const target = await router.slack(incident.owner);
    if (!target) return null;
    const body = slackPayload(incident, action, target, runId);
    return async (timeoutMs, signal) => {
      await postJson(target.webhookUrl, body, { timeoutMs, signal });
    };
  }
  const target = await router.pagerduty(incident.owner);
  if (!target) return null;
  const body = pagerdutyPayload(incident, action, target, runId);
  return async (timeoutMs, signal) => {
    await postJson(target.eventsUrl, body, { timeoutMs, signal });
  };
}

export async function alertDeliveries(db: SqlDatabase, incidentId?: string): Promise<DeliveryRow[]> {
  const rows = await db.query(
    `select delivery_id, incident_id, channel, action, route, status, cast(attempts as integer) as attempts,
       last_error, run_id
     from ops.alert_deliveries ${incidentId ? 'where incident_id = $1' : ''}
     order by created_at, incident_id, channel, case when action = 'trigger' then 0 else 1 end, delivery_id`,
    incidentId ? [incidentId] : [],
  );
  return rows as unknown as DeliveryRow[];
}
