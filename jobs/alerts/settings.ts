import { z } from 'zod';
import { jsonSetting } from '../json-setting.ts';

/** Where one owner's alerts go; secrets are named, never inlined (webhook URLs and routing keys are credentials). */
export const ownerRouteSchema = z
  .object({
    /** Slack channel override (`#orders-data`), for webhooks that honour it (legacy webhooks, Mattermost). */
    slackChannel: z.string().min(1).optional(),
    /** Secret holding this owner's Slack-compatible webhook URL; default: the secret `SLACK_WEBHOOK_URL`. */
    slackWebhookSecret: z.string().min(1).optional(),
    /** Secret holding this owner's PagerDuty Events v2 routing key; default: `PAGERDUTY_ROUTING_KEY`. */
    pagerdutyRoutingKeySecret: z.string().min(1).optional(),
  })
  .strict();

export type OwnerRoute = z.infer<typeof ownerRouteSchema>;

const routesJson = jsonSetting(
  z.record(z.string().min(1), ownerRouteSchema),
  '{"<owner>": {"slackChannel": "#x", …}}',
);

/**
 * Alert settings. Merge `ALERT_CONFIG_SHAPE` into the config schema (jobs/config.ts); `alertSettings(config)`
 * applies the defaults until then. Secrets (from SECRETS_URL): `SLACK_WEBHOOK_URL`, `PAGERDUTY_ROUTING_KEY`, and
 * any per-owner secret ALERT_ROUTES names.
 */
export const ALERT_CONFIG_SHAPE = {
  /** Per-owner routing, JSON: `{"commerce-analytics": {"slackChannel": "#sales-data", "pagerdutyRoutingKeySecret": "PD_KEY_SALES"}}`. */
  ALERT_ROUTES: routesJson,
  /** PagerDuty Events API v2 endpoint (override for a proxy or a test receiver). */
  PAGERDUTY_EVENTS_URL: z.url({ protocol: /^https?$/ }).default('https://events.pagerduty.com/v2/enqueue'),
  /** Tries per alert per watchdog run (the first included); undelivered alerts are tried again next run. */
  ALERT_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
  /** Backoff before the second try; doubles each time, capped at 30 s. */
  ALERT_RETRY_BASE_MS: z.coerce.number().int().min(1).max(60_000).default(1_000),
};

const alertSettingsSchema = z.object(ALERT_CONFIG_SHAPE);
export type AlertSettings = z.infer<typeof alertSettingsSchema>;

export function alertSettings(config: object): AlertSettings {
  const source = config as Record<string, unknown>;
  const picked = Object.fromEntries(
    Object.keys(ALERT_CONFIG_SHAPE).map((key) => {
      const value = source[key];
      return [key, typeof value === 'string' && value.trim() === '' ? undefined : value];
    }),
  );
  return alertSettingsSchema.parse(picked);
}
