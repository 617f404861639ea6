/**
 * Azure monitoring: an action group emailing the alert contacts, and one alert rule per spec rule.
 * Job failures and stopped services use platform metrics; freshness and stream lag use log
 * queries on the Container Apps logs in Log Analytics (Event Hubs has no consumer-lag metric,
 * and metric alerts cannot look back 75 minutes).
 */
import * as monitor from '@pulumi/azure-native/monitor/index.js';
import * as pulumi from '@pulumi/pulumi';
import { alertResourceName, type MonitoringArgs, type MonitoringOutputs } from '../components/monitoring.ts';
import type { AlertRuleSpec } from '../spec.ts';
import type { AzurePlacement } from './placement.ts';

export interface AzureMonitoringArgs extends MonitoringArgs, AzurePlacement {
  environment: string;
  /** Container Apps Job ID per job. */
  jobRefs: Record<string, pulumi.Output<string>>;
  /** Container App ID per service. */
  serviceRefs: Record<string, pulumi.Output<string>>;
  workspaceId: pulumi.Output<string>;
}

const SEVERITY: Record<AlertRuleSpec['severity'], number> = { critical: 0, error: 1, warning: 2 };

/** Log query a rule runs; the rule fires on the count (freshness) or the `lag` column (stream lag). */
export function alertQuery(rule: AlertRuleSpec, resourceName: string): string {
  if (rule.signal === 'job-not-succeeded') {
    return [
      'ContainerAppSystemLogs_CL',
      `| where TimeGenerated > ago(${rule.windowMinutes}m)`,
      `| where JobName_s == "${resourceName}" and Reason_s == "Completed"`,
    ].join('\n');
  }
  // stream-ingest logs one JSON line per committed micro-batch with `lagSeconds` (see docs/deploy.md).
  return [
    'ContainerAppConsoleLogs_CL',
    `| where ContainerAppName_s == "${resourceName}"`,
    '| extend entry = parse_json(Log_s)',
    '| where isnotnull(entry.lagSeconds)',
    '| summarize lag = max(todouble(entry.lagSeconds))',
  ].join('\n');
}

export class AzureMonitoring extends pulumi.ComponentResource implements MonitoringOutputs {
  readonly notificationTarget: pulumi.Output<string>;

  constructor(name: string, args: AzureMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:Monitoring', name, {}, opts);
    const child = { parent: this };
    const group = new monitor.ActionGroup(
      `${name}-contacts`,
      {
        actionGroupName: `${args.prefix}-alerts`,
        resourceGroupName: args.resourceGroupName,
        location: 'Global',
        groupShortName: `ecomm${args.environment}`.slice(0, 12),
        enabled: true,
        emailReceivers: args.contacts.map((email, index) => ({
          name: `contact-${index}`,
          emailAddress: email,
          useCommonAlertSchema: true,
        })),
        tags: args.tags,
      },
      child,
    );

    for (const rule of args.alerts) {
      const common = {
        resourceGroupName: args.resourceGroupName,
        ruleName: alertResourceName(args.prefix, rule),
        description: rule.description,
        severity: SEVERITY[rule.severity],
        enabled: true,
        autoMitigate: true,
        tags: args.tags,
      };
      if (rule.signal === 'job-failed' || rule.signal === 'service-down') {
        const failed = rule.signal === 'job-failed';
        new monitor.MetricAlert(
          `${name}-${rule.name}`,
          {
            ...common,
            location: 'global',
            scopes: [refOf(failed ? args.jobRefs : args.serviceRefs, rule.target)],
            evaluationFrequency: failed ? 'PT5M' : 'PT1M',
            windowSize: `PT${rule.windowMinutes}M`,
            criteria: {
              odataType: 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria',
              allOf: [
                failed
                  ? {
                      criterionType: 'StaticThresholdCriterion',
                      name: 'failed-executions',
                      metricNamespace: 'Microsoft.App/jobs',
                      metricName: 'Executions',
                      dimensions: [{ name: 'state', operator: 'Include', values: ['Failed'] }],
                      operator: 'GreaterThanOrEqual',
                      threshold: rule.threshold,
                      timeAggregation: 'Total',
                    }
                  : {
                      criterionType: 'StaticThresholdCriterion',
                      name: 'running-replicas',
                      metricNamespace: 'Microsoft.App/containerApps',
                      metricName: 'Replicas',
                      operator: 'LessThan',
                      threshold: rule.threshold,
                      timeAggregation: 'Minimum',
                    },
              ],
            },
            actions: [{ actionGroupId: group.id }],
          },
          child,
        );
      } else {
        const target = rule.signal === 'job-not-succeeded' ? args.jobRefs : args.serviceRefs;
        const resourceName = refOf(target, rule.target).apply((id) => id.split('/').pop() ?? rule.target);
        const freshness = rule.signal === 'job-not-succeeded';
        new monitor.ScheduledQueryRule(
          `${name}-${rule.name}`,
          {
            ...common,
            location: args.location,
            kind: 'LogAlert',
            scopes: [args.workspaceId],
            evaluationFrequency: 'PT5M',
            // Freshness looks back its own 75 minutes inside the query; the window just has to cover it.
            windowSize: freshness ? 'PT2H' : `PT${rule.windowMinutes}M`,
            criteria: {
              allOf: [
                {
                  query: resourceName.apply((resource) => alertQuery(rule, resource)),
                  timeAggregation: freshness ? 'Count' : 'Maximum',
                  ...(freshness ? {} : { metricMeasureColumn: 'lag' }),
                  operator: freshness ? 'LessThan' : 'GreaterThan',
                  threshold: rule.threshold,
                  failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
                },
              ],
            },
            actions: { actionGroups: [group.id] },
          },
          child,
        );
      }
    }
    this.notificationTarget = group.id;
    this.registerOutputs({ notificationTarget: this.notificationTarget });
  }
}

function refOf(refs: Record<string, pulumi.Output<string>>, target: string): pulumi.Output<string> {
  const ref = refs[target];
  if (ref === undefined) throw new Error(`alert target ${target} is not deployed`);
  return ref;
}
