/**
 * The two alert channels' wire formats: a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat,
 * Teams' Slack-compatible connectors) and the PagerDuty Events API v2, whose `dedup_key` is the incident id so a
 * trigger and its resolve address the same PagerDuty incident.
 */
import type { IncidentRow } from './incident-rows.ts';
import type { AlertAction, AlertSeverity, PagerDutyTarget, SlackTarget } from './routing.ts';

export class AlertHttpError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AlertHttpError';
    this.status = status;
  }
}

/** Network failures, timeouts, 408, 429 and 5xx are retried; other 4xx (bad key, bad payload) are not. */
export function isRetryableDelivery(error: unknown): boolean {
  if (!(error instanceof AlertHttpError)) return false;
  if (error.status === undefined) return true;
  return error.status === 408 || error.status === 429 || error.status >= 500;
}

/** Host and path of a URL without its query, for messages: a webhook URL's path is a credential, so only the host. */
export function safeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return 'an invalid URL';
  }
}

export async function postJson(
  url: string,
  body: unknown,
  options: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<number> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `timed out after ${options.timeoutMs} ms`
        : (error as Error).message;
    throw new AlertHttpError(`POST ${safeEndpoint(url)} failed: ${reason}`, undefined, { cause: error });
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new AlertHttpError(
      `POST ${safeEndpoint(url)} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`,
      response.status,
    );
  }
  return response.status;
}

const SLACK_ICON: Record<AlertSeverity, string> = {
  critical: ':rotating_light:',
  blocking: ':red_circle:',
  warn: ':warning:',
  info: ':information_source:',
};

function incidentLine(incident: IncidentRow): string {
  return `\`${incident.check_id}\` on \`${incident.table_name}\` (owner ${incident.owner})`;
}

/** One message per incident open, one per resolve. */
export function slackPayload(
  incident: IncidentRow,
  action: AlertAction,
  target: SlackTarget,
  runId: string,
): Record<string, unknown> {
  const text =
    action === 'trigger'
      ? `${SLACK_ICON[incident.severity]} *${incident.severity.toUpperCase()}* data incident opened: ${incidentLine(incident)}\n` +
        `${incident.details ?? `${incident.failing_rows} failing rows`}\n` +
        `incident ${incident.incident_id} · run ${runId}`
      : `:white_check_mark: Resolved: ${incidentLine(incident)}, open since ${incident.opened_at.toISOString()} ` +
        `(${incident.occurrences} failing run${incident.occurrences === 1 ? '' : 's'})\n` +
        `incident ${incident.incident_id} · run ${runId}`;
  const payload: Record<string, unknown> = { text };
  if (target.channel) payload.channel = target.channel;
  return payload;
}

const PAGERDUTY_SEVERITY: Record<AlertSeverity, 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  blocking: 'error',
  warn: 'warning',
  info: 'info',
};

/** Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ */
export function pagerdutyPayload(
  incident: IncidentRow,
  action: AlertAction,
  target: PagerDutyTarget,
  runId: string,
): Record<string, unknown> {
  if (action === 'resolve') {
    return { routing_key: target.routingKey, event_action: 'resolve', dedup_key: incident.incident_id };
  }
  return {
    routing_key: target.routingKey,
    event_action: 'trigger',
    dedup_key: incident.incident_id,
    payload: {
      summary: `Data incident: ${incident.check_id} failing on ${incident.table_name}`.slice(0, 1024),
      source: 'ecomm-watchdog',
      severity: PAGERDUTY_SEVERITY[incident.severity],
      timestamp: incident.opened_at.toISOString(),
      component: incident.table_name,
      group: incident.owner,
      class: incident.check_type,
      custom_details: {
        check_id: incident.check_id,
        owner: incident.owner,
        failing_rows: incident.failing_rows,
        details: incident.details,
        incident_id: incident.incident_id,
        run_id: runId,
      },
    },
  };
}
