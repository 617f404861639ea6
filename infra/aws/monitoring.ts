/**
 * AWS monitoring: an SNS topic with an email subscription per alert contact, and one CloudWatch
 * alarm per spec rule. Job outcomes come from each job's Step Functions run, stream lag from MSK's
 * consumer-lag metric, service health from Container Insights.
 */
import * as cloudwatch from '@pulumi/aws/cloudwatch/index.js';
import * as sns from '@pulumi/aws/sns/index.js';
import * as pulumi from '@pulumi/pulumi';
import { alertResourceName, type MonitoringArgs, type MonitoringOutputs } from '../components/monitoring.ts';
import type { AlertRuleSpec, TopicSpec } from '../spec.ts';

export interface AwsMonitoringArgs extends MonitoringArgs {
  /** State machine ARN per job. */
  jobRefs: Record<string, pulumi.Output<string>>;
  /** ECS service name per service. */
  serviceRefs: Record<string, pulumi.Output<string>>;
  clusterName: pulumi.Output<string>;
  streamClusterName: pulumi.Output<string>;
  topics: TopicSpec[];
}

type AlarmShape = Omit<
  cloudwatch.MetricAlarmArgs,
  'alarmActions' | 'okActions' | 'tags' | 'name' | 'alarmDescription'
>;

export class AwsMonitoring extends pulumi.ComponentResource implements MonitoringOutputs {
  readonly notificationTarget: pulumi.Output<string>;

  constructor(name: string, args: AwsMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:Monitoring', name, {}, opts);
    const child = { parent: this };
    // No SSE on the topic: alerts carry no data, and CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    const topic = new sns.Topic(`${name}-alerts`, { name: `${args.prefix}-alerts`, tags: args.tags }, child);
    args.contacts.forEach((email, index) => {
      new sns.TopicSubscription(
        `${name}-contact-${index}`,
        { topic: topic.arn, protocol: 'email', endpoint: email },
        child,
      );
    });
    for (const rule of args.alerts) {
      new cloudwatch.MetricAlarm(
        `${name}-${rule.name}`,
        {
          name: alertResourceName(args.prefix, rule),
          alarmDescription: `[${rule.severity}] ${rule.description}`,
          alarmActions: [topic.arn],
          okActions: [topic.arn],
          tags: args.tags,
          ...this.shapeOf(rule, args),
        },
        child,
      );
    }
    this.notificationTarget = topic.arn;
    this.registerOutputs({ notificationTarget: this.notificationTarget });
  }

  private shapeOf(rule: AlertRuleSpec, args: AwsMonitoringArgs): AlarmShape {
    const periods = Math.max(1, Math.round(rule.windowMinutes / 5));
    switch (rule.signal) {
      case 'job-failed': {
        const run = refOf(args.jobRefs, rule.target);
        const metric = (metricName: string) => ({
          namespace: 'AWS/States',
          metricName,
          dimensions: { StateMachineArn: run },
          period: 300,
          stat: 'Sum',
        });
        return {
          metricQueries: [
            { id: 'failed', metric: metric('ExecutionsFailed') },
            { id: 'timedout', metric: metric('ExecutionsTimedOut') },
            {
              id: 'problems',
              expression: 'FILL(failed, 0) + FILL(timedout, 0)',
              label: 'failed or timed-out runs',
              returnData: true,
            },
          ],
          comparisonOperator: 'GreaterThanOrEqualToThreshold',
          threshold: rule.threshold,
          evaluationPeriods: periods,
          datapointsToAlarm: 1,
          treatMissingData: 'notBreaching',
        };
      }
      case 'job-not-succeeded':
        // 15 five-minute periods without a success = 75 minutes; no data at all counts as no success.
        return {
          namespace: 'AWS/States',
          metricName: 'ExecutionsSucceeded',
          dimensions: { StateMachineArn: refOf(args.jobRefs, rule.target) },
          statistic: 'Sum',
          period: 300,
          evaluationPeriods: periods,
          datapointsToAlarm: periods,
          comparisonOperator: 'LessThanThreshold',
          threshold: rule.threshold,
          treatMissingData: 'breaching',
        };
      case 'stream-lag': {
        // One series per (topic, consumer group) the stream readers consume; the alarm takes the worst.
        const consumed = args.topics.flatMap((t) =>
          t.consumerGroups.map((group) => ({ topic: t.name, group })),
        );
        return {
          metricQueries: [
            ...consumed.map((pair, index) => ({
              id: `lag${index}`,
              metric: {
                namespace: 'AWS/Kafka',
                metricName: 'EstimatedMaxTimeLag',
                dimensions: {
                  'Cluster Name': args.streamClusterName,
                  'Consumer Group': pair.group,
                  Topic: pair.topic,
                },
                period: 60,
                stat: 'Maximum',
              },
            })),
            {
              id: 'lag',
              expression: `MAX([${consumed.map((_, i) => `lag${i}`).join(', ')}])`,
              label: 'max seconds behind',
              returnData: true,
            },
          ],
          comparisonOperator: 'GreaterThanThreshold',
          threshold: rule.threshold,
          evaluationPeriods: rule.windowMinutes,
          datapointsToAlarm: rule.windowMinutes,
          treatMissingData: 'notBreaching',
        };
      }
      case 'service-down':
        return {
          namespace: 'ECS/ContainerInsights',
          metricName: 'RunningTaskCount',
          dimensions: { ClusterName: args.clusterName, ServiceName: refOf(args.serviceRefs, rule.target) },
          statistic: 'Minimum',
          period: 60,
          evaluationPeriods: rule.windowMinutes,
          datapointsToAlarm: rule.windowMinutes,
          comparisonOperator: 'LessThanThreshold',
          threshold: rule.threshold,
          treatMissingData: 'breaching',
        };
    }
  }
}

function refOf(refs: Record<string, pulumi.Output<string>>, target: string): pulumi.Output<string> {
  const ref = refs[target];
  if (ref === undefined) throw new Error(`alert target ${target} is not deployed`);
  return ref;
}
