/**
 * AWS event stream: Amazon MSK provisioned (IAM auth, TLS in transit and between brokers) with one
 * msk.Topic per spec topic. Provisioned rather than Serverless because msk.Topic (topics as
 * resources, so removing a topic from the contracts removes it here) needs provisioned Kafka >= 3.6.
 */
import * as cloudwatch from '@pulumi/aws/cloudwatch/index.js';
import * as msk from '@pulumi/aws/msk/index.js';
import * as pulumi from '@pulumi/pulumi';
import { mskStreamUrl } from '../adapter-urls.ts';
import type { EventStreamArgs, EventStreamOutputs } from '../components/event-stream.ts';
import { streamSizing } from '../sizing.ts';

export const KAFKA_VERSION = '3.8.x';

export interface AwsEventStreamArgs extends EventStreamArgs {
  region: string;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  logRetentionDays: number;
}

export class AwsEventStream extends pulumi.ComponentResource implements EventStreamOutputs {
  readonly streamUrl: pulumi.Output<string>;
  readonly streamId: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;

  constructor(name: string, args: AwsEventStreamArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:EventStream', name, {}, opts);
    const child = { parent: this };
    const sizing = streamSizing(args.stream.size).msk;
    const brokers = sizing.brokersPerZone * args.subnetIds.length;
    const replication = Math.min(3, brokers);
    const minInSync = Math.max(1, replication - 1);

    const configuration = new msk.Configuration(
      `${name}-config`,
      {
        name: `${args.prefix}-kafka`,
        kafkaVersions: [KAFKA_VERSION],
        serverProperties: [
          // Topics exist only as declared in the spec: a typo in a producer must fail, not create a topic.
          'auto.create.topics.enable=false',
          `default.replication.factor=${replication}`,
          `min.insync.replicas=${minInSync}`,
          'unclean.leader.election.enable=false',
        ].join('\n'),
      },
      child,
    );
    const brokerLogs = new cloudwatch.LogGroup(
      `${name}-broker-logs`,
      {
        name: `/ecomm/${args.prefix}/msk`,
        retentionInDays: args.logRetentionDays,
        tags: args.tags,
      },
      child,
    );

    const cluster = new msk.Cluster(
      `${name}-cluster`,
      {
        clusterName: args.prefix,
        kafkaVersion: KAFKA_VERSION,
        numberOfBrokerNodes: brokers,
        brokerNodeGroupInfo: {
          instanceType: sizing.instanceType,
          clientSubnets: args.subnetIds,
          securityGroups: [args.securityGroupId],
          storageInfo: { ebsStorageInfo: { volumeSize: sizing.volumeGiB } },
          connectivityInfo: { publicAccess: { type: 'DISABLED' } },
        },
        clientAuthentication: { sasl: { iam: true }, unauthenticated: false },
        encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS', inCluster: true } },
        configurationInfo: { arn: configuration.arn, revision: configuration.latestRevision },
        loggingInfo: { brokerLogs: { cloudwatchLogs: { enabled: true, logGroup: brokerLogs.name } } },
        tags: args.tags,
      },
      child,
    );

    for (const topic of args.stream.topics) {
      new msk.Topic(
        `${name}-topic-${topic.name}`,
        {
          clusterArn: cluster.arn,
          name: topic.name,
          partitionCount: topic.partitions,
          replicationFactor: replication,
          configs: JSON.stringify({
            'retention.ms': String(topic.retentionHours * 3_600_000),
            'cleanup.policy': 'delete',
            'min.insync.replicas': String(minInSync),
          }),
        },
        child,
      );
    }

    this.streamUrl = cluster.bootstrapBrokersSaslIam.apply((brokerList) =>
      mskStreamUrl(brokerList, args.region),
    );
    this.streamId = cluster.arn;
    this.clusterName = cluster.clusterName;
    this.registerOutputs({ streamUrl: this.streamUrl });
  }
}
