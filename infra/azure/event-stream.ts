/**
 * Azure event stream: an Event Hubs Standard namespace (Kafka endpoint, TLS 1.2, reachable only
 * through its private endpoint) with one event hub per spec topic and a consumer group per
 * consuming group. Local (shared key) auth is disabled: Kafka clients authenticate with SASL
 * OAUTHBEARER and a Microsoft Entra ID token of their managed identity (STREAM_URL auth=entra),
 * which holds Event Hubs data roles on the namespace (identity.ts). No connection string exists.
 */
import * as eventhub from '@pulumi/azure-native/eventhub/index.js';
import * as pulumi from '@pulumi/pulumi';
import { eventHubsStreamUrl } from '../adapter-urls.ts';
import type { EventStreamArgs, EventStreamOutputs } from '../components/event-stream.ts';
import { streamSizing } from '../sizing.ts';
import type { AzurePlacement } from './placement.ts';
import { addPrivateEndpoint } from './private-endpoint.ts';

export interface AzureEventStreamArgs extends EventStreamArgs, AzurePlacement {
  namespaceName: string;
  endpointsSubnetId: pulumi.Input<string>;
  servicebusDnsZoneId: pulumi.Input<string>;
}

export class AzureEventStream extends pulumi.ComponentResource implements EventStreamOutputs {
  readonly streamUrl: pulumi.Output<string>;
  readonly streamId: pulumi.Output<string>;

  constructor(name: string, args: AzureEventStreamArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:azure:EventStream', name, {}, opts);
    const child = { parent: this };
    const sizing = streamSizing(args.stream.size).eventHubs;

    const namespace = new eventhub.Namespace(
      `${name}-namespace`,
      {
        namespaceName: args.namespaceName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: 'Standard', tier: 'Standard', capacity: sizing.throughputUnits },
        isAutoInflateEnabled: true,
        maximumThroughputUnits: sizing.maxThroughputUnits,
        kafkaEnabled: true,
        minimumTlsVersion: '1.2',
        publicNetworkAccess: 'Disabled',
        // Entra ID only: no shared access key can be listed, leaked or used.
        disableLocalAuth: true,
        zoneRedundant: true,
        tags: args.tags,
      },
      child,
    );
    const namespaceRef = { resourceGroupName: args.resourceGroupName, namespaceName: namespace.name };

    for (const topic of args.stream.topics) {
      const hub = new eventhub.EventHub(
        `${name}-hub-${topic.name}`,
        {
          ...namespaceRef,
          eventHubName: topic.name,
          partitionCount: topic.partitions,
          retentionDescription: { cleanupPolicy: 'Delete', retentionTimeInHours: topic.retentionHours },
        },
        child,
      );
      for (const group of topic.consumerGroups) {
        // Kafka clients' groups are tracked by Event Hubs on their own; this group gives AMQP
        // tooling (Stream Analytics, the portal's data explorer) the same name to read with.
        new eventhub.ConsumerGroup(
          `${name}-hub-${topic.name}-${group}`,
          { ...namespaceRef, eventHubName: hub.name, consumerGroupName: group },
          child,
        );
      }
    }
    addPrivateEndpoint(this, {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      name: `${args.prefix}-events`,
      subnetId: args.endpointsSubnetId,
      resourceId: namespace.id,
      groupId: 'namespace',
      dnsZoneId: args.servicebusDnsZoneId,
      tags: args.tags,
    });

    this.streamUrl = namespace.name.apply((ns) => eventHubsStreamUrl(ns));
    this.streamId = namespace.id;
    this.registerOutputs({ streamUrl: this.streamUrl });
  }
}
