/**
 * The stream service's KPI alert loop: every KPI_ALERT_SECONDS one round of jobs/kpis/alerts.ts (the rules, their
 * incidents, the KPI alerts' delivery). A failed round (the warehouse away, a webhook down) is logged and shown on
 * /status, and the next round tries again: alerting never stops the stream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { redactSecrets } from '../../../adapters/redact.ts';
import { alertRouterFromConfig } from '../../alerts/routing.ts';
import type { JobContext } from '../../context.ts';
import { type KpiAlertRound, releaseKpiAlertLease, runKpiAlertRound } from '../../kpis/alerts.ts';
import { kpiSettings } from '../../kpis/settings.ts';

/** What /status shows of the KPI alerts. */
export interface KpiAlertStatus {
  everySeconds: number;
  lastEvaluatedAt: string | null;
  /** Another replica holds the evaluation lease. */
  standby: boolean;
  /** The rules breached at the last evaluation (their incidents are open). */
  breached: string[];
  /** Rules not judged at the last evaluation, with why. */
  notJudged: Record<string, string>;
  lastError: { message: string; at: string } | null;
}

export interface KpiAlertLoop {
  status(): KpiAlertStatus;
  stop(): Promise<void>;
}

export function startKpiAlertLoop(context: JobContext): KpiAlertLoop | null {
  const settings = kpiSettings(context.config);
  const everySeconds = settings.KPI_ALERT_SECONDS;
  if (everySeconds === 0) return null;
  const log = context.log.child({ job: 'stream-ingest', step: 'kpi-alerts' });
  const router = alertRouterFromConfig(context.config, context.secrets());
  const stopping = new AbortController();
  const state: KpiAlertStatus = {
    everySeconds,
    lastEvaluatedAt: null,
    standby: false,
    breached: [],
    notJudged: {},
    lastError: null,
  };
  const record = (round: KpiAlertRound) => {
    state.lastEvaluatedAt = round.evaluatedAt.toISOString();
    state.standby = round.skipped;
    state.lastError = null;
    if (round.skipped) return;
    state.breached = round.verdicts.filter((v) => v.finding && !v.finding.passed).map((v) => v.rule.name);
    state.notJudged = Object.fromEntries(
      round.verdicts.filter((v) => !v.finding).map((v) => [v.rule.name, v.note]),
    );
    for (const incident of round.incidents.opened)
      log.warn(
        { incidentId: incident.incident_id, checkId: incident.check_id, details: incident.details },
        'KPI alert: incident opened',
      );
    for (const incident of round.incidents.resolved)
      log.info(
        { incidentId: incident.incident_id, checkId: incident.check_id },
        'KPI alert: incident resolved',
      );
  };
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        record(
          await runKpiAlertRound(await context.warehouse(), {
            holderRunId: context.runId,
            now: context.now(),
            businessHours: settings.KPI_BUSINESS_HOURS,
            leaseSeconds: Math.max(60, everySeconds * 3),
            router,
            signal: stopping.signal,
            log,
          }),
        );
      } catch (error) {
        if (stopping.signal.aborted) break;
        const message = redactSecrets((error as Error).message ?? String(error));
        state.lastError = { message, at: new Date().toISOString() };
        log.warn({ error: message }, 'KPI alert round failed; the next one tries again');
      }
      await sleep(everySeconds * 1000, undefined, { signal: stopping.signal }).catch(() => {});
    }
  })();
  return {
    status: () => ({ ...state, breached: [...state.breached], notJudged: { ...state.notJudged } }),
    async stop() {
      stopping.abort();
      await loop;
      // The next replica (or this service restarted) takes over at once instead of after the lease's expiry.
      await releaseKpiAlertLease(await context.warehouse(), context.runId).catch(() => {});
    },
  };
}
