/**
 * Service levels and the alert rules that guard them. Both clouds build one alert per rule (see
 * aws/monitoring.ts and azure/monitoring.ts), named after the rule.
 */

/** Service levels from the seeds (docs/architecture.md, "Service levels"). */
export const SLA = { batchFreshnessMinutes: 75, streamToSilverMinutes: 5 } as const;
/** Consumer lag allowed before alerting: one slice of the 5-minute stream-to-silver budget. */
export const STREAM_LAG_ALERT_SECONDS = 120;
/**
 * The job whose success means gold is fresh: the hourly run of the whole DAG. The freshness alert watches it and
 * the platform spec checks its worst case against the SLA (batch-freshness.ts).
 */
export const GOLD_BUILD_JOB = 'run';

export type AlertSignal = 'job-failed' | 'job-not-succeeded' | 'stream-lag' | 'service-down';
export interface AlertRuleSpec {
  name: string;
  signal: AlertSignal;
  /** The job or service the rule watches. */
  target: string;
  /** Count for job-failed, seconds for stream-lag, running replicas for service-down. */
  threshold: number;
  windowMinutes: number;
  severity: 'critical' | 'error' | 'warning';
  description: string;
}

/**
 * What the rules read of a job and of a service. Declared here rather than taken from spec.ts, which
 * builds its alerts with this module: the spec's workloads fit these shapes without the two
 * modules importing each other.
 */
export interface WatchedJob {
  name: string;
  kind: string;
}
export interface WatchedService {
  name: string;
  /** Platform settings the service reads; a STREAM_URL reader is watched for lag. */
  settings: readonly string[];
  replicas: number;
}

/** Every job alerts on failure; gold freshness and each stream service are watched against their SLA. */
export function buildAlerts(
  jobs: readonly WatchedJob[],
  services: readonly WatchedService[],
): AlertRuleSpec[] {
  const alerts: AlertRuleSpec[] = jobs.map((job) => ({
    name: `job-failed-${job.name}`,
    signal: 'job-failed',
    target: job.name,
    threshold: 1,
    windowMinutes: 15,
    severity: 'error',
    description: `${job.name} failed after its retries or timed out`,
  }));
  const goldBuild = jobs.find((job) => job.name === GOLD_BUILD_JOB && job.kind === 'scheduled');
  if (goldBuild !== undefined) {
    alerts.push({
      name: 'batch-freshness',
      signal: 'job-not-succeeded',
      target: goldBuild.name,
      threshold: 1,
      windowMinutes: SLA.batchFreshnessMinutes,
      severity: 'critical',
      description: `no successful ${goldBuild.name} run in ${SLA.batchFreshnessMinutes} minutes: gold is past its freshness SLA`,
    });
  }
  for (const service of services) {
    if (service.settings.includes('STREAM_URL')) {
      alerts.push({
        name: `stream-lag-${service.name}`,
        signal: 'stream-lag',
        target: service.name,
        threshold: STREAM_LAG_ALERT_SECONDS,
        windowMinutes: 5,
        severity: 'critical',
        description: `${service.name} is over ${STREAM_LAG_ALERT_SECONDS}s behind: the ${SLA.streamToSilverMinutes}-minute stream-to-silver SLA is at risk`,
      });
    }
    alerts.push({
      name: `service-down-${service.name}`,
      signal: 'service-down',
      target: service.name,
      threshold: service.replicas,
      windowMinutes: 5,
      severity: 'critical',
      description: `${service.name} runs fewer than ${service.replicas} replicas`,
    });
  }
  return alerts;
}
