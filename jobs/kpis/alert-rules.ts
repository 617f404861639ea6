/**
 * The KPI alert rules, declared in one place: thresholds on the real-time KPIs and anomaly rules against their own
 * history. The stream service evaluates them every KPI_ALERT_SECONDS (jobs/kpis/alerts.ts); a breach is one
 * incident, routed by severity and owner like every other (jobs/alerts), resolved when the rule holds again.
 *
 * Adding a rule is adding an entry here. Windows are whole minutes that the stream has moved past (see
 * `evaluationClock`), so a minute still being filled never looks like a drop.
 */
import { OWNERS } from '../alerts/owners.ts';
import type { AlertSeverity } from '../alerts/routing.ts';

interface RuleBase {
  /** Stable id: the incident's check id is `kpi:<name>`. Lowercase words with underscores. */
  name: string;
  description: string;
  severity: AlertSeverity;
  owner: string;
}

/** No order created in the last `minutes` complete minutes, judged only inside KPI_BUSINESS_HOURS. */
export interface ZeroOrdersRule extends RuleBase {
  kind: 'zero_orders';
  minutes: number;
}

/** The newest event applied (any topic) is older than `minutes`, judged only inside KPI_BUSINESS_HOURS. */
export interface StreamStalledRule extends RuleBase {
  kind: 'stream_stalled';
  minutes: number;
}

/**
 * Revenue (USD) of the last `windowMinutes` below `minRatio` x the mean of the same window on the previous `weeks`
 * same weekdays; judged with at least `minWeeks` of them holding orders.
 */
export interface RevenueBaselineRule extends RuleBase {
  kind: 'revenue_vs_baseline';
  windowMinutes: number;
  weeks: number;
  minWeeks: number;
  minRatio: number;
}

/**
 * Conversion of the sessions that started in a `windowMinutes` window ending `settleMinutes` ago (a session may
 * still convert for a while) below `minRatio` x the same window's conversion over the previous `days` days.
 */
export interface ConversionBaselineRule extends RuleBase {
  kind: 'conversion_vs_baseline';
  windowMinutes: number;
  settleMinutes: number;
  days: number;
  minSessions: number;
  minBaselineSessions: number;
  minRatio: number;
}

/** Cancellations over orders created in the last `windowMinutes` above `maxShare`, with at least `minOrders`. */
export interface CancellationShareRule extends RuleBase {
  kind: 'cancellation_share';
  windowMinutes: number;
  maxShare: number;
  minOrders: number;
}

export type KpiRule =
  | ZeroOrdersRule
  | StreamStalledRule
  | RevenueBaselineRule
  | ConversionBaselineRule
  | CancellationShareRule;

export const KPI_RULES: KpiRule[] = [
  {
    kind: 'zero_orders',
    name: 'zero_orders',
    description: 'no order created for 15 minutes during business hours',
    severity: 'critical',
    owner: OWNERS.commerce,
    minutes: 15,
  },
  {
    kind: 'stream_stalled',
    name: 'stream_stalled',
    description: 'no event applied for 10 minutes during business hours: the live KPIs are stale',
    severity: 'critical',
    owner: OWNERS.platform,
    minutes: 10,
  },
  {
    kind: 'revenue_vs_baseline',
    name: 'revenue_below_baseline',
    description:
      'revenue of the last 15 minutes below half the same 15 minutes on the previous 4 same weekdays',
    severity: 'warn',
    owner: OWNERS.commerce,
    windowMinutes: 15,
    weeks: 4,
    minWeeks: 2,
    minRatio: 0.5,
  },
  {
    kind: 'conversion_vs_baseline',
    name: 'conversion_drop',
    description: 'conversion of the last hour of sessions below half the same hour over the previous 7 days',
    severity: 'warn',
    owner: OWNERS.growth,
    windowMinutes: 60,
    settleMinutes: 30,
    days: 7,
    minSessions: 100,
    minBaselineSessions: 500,
    minRatio: 0.5,
  },
  {
    kind: 'cancellation_share',
    name: 'cancellations_high',
    description: 'more than a quarter of the last hour’s orders cancelled',
    severity: 'warn',
    owner: OWNERS.commerce,
    windowMinutes: 60,
    maxShare: 0.25,
    minOrders: 20,
  },
];

export const KPI_CHECK_PREFIX = 'kpi:';

export function kpiCheckId(rule: Pick<KpiRule, 'name'>): string {
  return `${KPI_CHECK_PREFIX}${rule.name}`;
}
