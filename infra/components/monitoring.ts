/** Monitoring capability: one alert per spec rule, routed to the alert contacts. */
import type * as pulumi from '@pulumi/pulumi';
import type { AlertRuleSpec } from '../spec.ts';

export interface MonitoringArgs {
  prefix: string;
  alerts: AlertRuleSpec[];
  contacts: string[];
  tags: Record<string, string>;
}

export interface MonitoringOutputs {
  /** SNS topic ARN or action group ID that alerts notify. */
  readonly notificationTarget: pulumi.Output<string>;
}

/** Alert resource names carry the rule name so each cloud's alerts map back to the spec. */
export function alertResourceName(prefix: string, rule: AlertRuleSpec): string {
  return `${prefix}-alert-${rule.name}`;
}
