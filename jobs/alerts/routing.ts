import type { RetryPolicy } from '../../adapters/retry.ts';
import { SecretNotFoundError, type SecretStore } from '../../adapters/secrets/secret-store.ts';
import { type AlertSettings, alertSettings } from './settings.ts';

/** How bad a failing check is: critical and blocking page someone, warn posts to Slack, info is only recorded. */
export type AlertSeverity = 'critical' | 'blocking' | 'warn' | 'info';
export const ALERT_SEVERITIES: AlertSeverity[] = ['critical', 'blocking', 'warn', 'info'];

export type AlertChannel = 'slack' | 'pagerduty';
/** An incident opened (trigger) or cleared (resolve): the only two alerts an incident ever sends per channel. */
export type AlertAction = 'trigger' | 'resolve';

/** The routing policy by severity (the issue's: blocking/critical -> PagerDuty + Slack, warn -> Slack only). */
export const SEVERITY_CHANNELS: Record<AlertSeverity, AlertChannel[]> = {
  critical: ['pagerduty', 'slack'],
  blocking: ['pagerduty', 'slack'],
  warn: ['slack'],
  info: [],
};

export interface SlackTarget {
  webhookUrl: string;
  channel?: string | undefined;
}

export interface PagerDutyTarget {
  eventsUrl: string;
  routingKey: string;
}

/** Resolves an owner to its targets on each channel (null: that channel is not configured for the owner). */
export interface AlertRouter {
  slack(owner: string): Promise<SlackTarget | null>;
  pagerduty(owner: string): Promise<PagerDutyTarget | null>;
  /** Tries per delivery in one run, and the backoff between them. */
  readonly retry: RetryPolicy;
  /** Per HTTP request. */
  readonly timeoutMs: number;
}

async function optionalSecret(secrets: SecretStore, name: string): Promise<string | null> {
  try {
    const value = await secrets.get(name);
    return value.trim() === '' ? null : value.trim();
  } catch (error) {
    if (error instanceof SecretNotFoundError) return null;
    throw error;
  }
}

/**
 * The router of a deployment: owner routes from ALERT_ROUTES, credentials from the secret store. An owner with no
 * route of its own uses the defaults (`SLACK_WEBHOOK_URL`, `PAGERDUTY_ROUTING_KEY`); a channel with no credential
 * at all is "unrouted" (recorded, not retried).
 */
export function alertRouterFromSettings(
  settings: AlertSettings,
  secrets: SecretStore,
  timeoutMs = 10_000,
): AlertRouter {
  const cache = new Map<string, Promise<string | null>>();
  const secret = (name: string) => {
    let value = cache.get(name);
    if (!value) {
      value = optionalSecret(secrets, name);
      cache.set(name, value);
    }
    return value;
  };
  return {
    retry: {
      attempts: settings.ALERT_DELIVERY_ATTEMPTS,
      baseDelayMs: settings.ALERT_RETRY_BASE_MS,
      maxDelayMs: 30_000,
    },
    timeoutMs,
    async slack(owner) {
      const route = settings.ALERT_ROUTES[owner];
      const webhookUrl = await secret(route?.slackWebhookSecret ?? 'SLACK_WEBHOOK_URL');
      return webhookUrl ? { webhookUrl, channel: route?.slackChannel } : null;
    },
    async pagerduty(owner) {
      const route = settings.ALERT_ROUTES[owner];
      const routingKey = await secret(route?.pagerdutyRoutingKeySecret ?? 'PAGERDUTY_ROUTING_KEY');
      return routingKey ? { eventsUrl: settings.PAGERDUTY_EVENTS_URL, routingKey } : null;
    },
  };
}

export function alertRouterFromConfig(config: object, secrets: SecretStore): AlertRouter {
  return alertRouterFromSettings(alertSettings(config), secrets);
}

/** Fixed targets (tests, tools): the same Slack webhook and PagerDuty key for every owner unless overridden. */
export function staticAlertRouter(options: {
  slack?: SlackTarget | null;
  pagerduty?: PagerDutyTarget | null;
  owners?: Record<string, { slack?: SlackTarget | null; pagerduty?: PagerDutyTarget | null }>;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}): AlertRouter {
  return {
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, ...options.retry },
    timeoutMs: options.timeoutMs ?? 5_000,
    async slack(owner) {
      const own = options.owners?.[owner];
      return own && own.slack !== undefined ? own.slack : (options.slack ?? null);
    },
    async pagerduty(owner) {
      const own = options.owners?.[owner];
      return own && own.pagerduty !== undefined ? own.pagerduty : (options.pagerduty ?? null);
    },
  };
}
