/**
 * Azure event stream: an Event Hubs Standard namespace (Kafka endpoint, TLS 1.2, reachable only
 * through its private endpoint) with one event hub per spec topic and a consumer group per
 * consuming group. Kafka clients authenticate with SASL PLAIN using a Listen+Send connection
 * string kept in Key Vault and injected by reference as EVENTHUBS_CONNECTION_STRING.
 */
import * as eventhub from '@pulumi/azure-native/eventhub/index.js';
import * as pulumi from '@pulumi/pulumi';
import { EVENTHUBS_CONNECTION_ENV, eventHubsStreamUrl } from '../adapter-urls.ts';
import type { EventStreamArgs, EventStreamOutputs } from '../components/event-stream.ts';
import { streamSizing } from '../sizing.ts';
import type { AzurePlacement } from './placement.ts';
import { addPrivateEndpoint } from './private-endpoint.ts';

/** The Key Vault secret holding the connection string, injected as the variable of the same name. */
export const STREAM_CONNECTION_SECRET = EVENTHUBS_CONNECTION_ENV;

export interface AzureEventStreamArgs extends EventStreamArgs, AzurePlacement {
  namespaceName: string;
  endpointsSubnetId: pulumi.Input<string>;
  servicebusDnsZoneId: pulumi.Input<string>;
}

export class AzureEventStream extends pulumi.ComponentResource implements EventStreamOutputs {
  readonly streamUrl: pulumi.Output<string>;
  readonly streamId: pulumi.Output<string>;
  readonly connectionString: pulumi.Output<string>;

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
        // Kafka's SASL PLAIN needs a SAS connection string, so local (SAS) auth stays on.
        disableLocalAuth: false,
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
    const rule = new eventhub.NamespaceAuthorizationRule(
      `${name}-jobs`,
      {
        ...namespaceRef,
        authorizationRuleName: 'jobs',
        rights: ['Listen', 'Send'],
      },
      child,
    );
    const keys = eventhub.listNamespaceKeysOutput(
      { ...namespaceRef, authorizationRuleName: rule.name },
      { parent: this },
    );
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

    this.connectionString = pulumi.secret(keys.primaryConnectionString);
    this.streamUrl = namespace.name.apply((ns) => eventHubsStreamUrl(ns));
    this.streamId = namespace.id;
    this.registerOutputs({ streamUrl: this.streamUrl });
  }
}
