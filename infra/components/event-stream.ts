/** Event stream capability: a Kafka endpoint with one topic per spec topic (MSK or Event Hubs). */
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformSpec } from '../spec.ts';

export interface EventStreamArgs {
  prefix: string;
  stream: PlatformSpec['stream'];
  tags: Record<string, string>;
}

export interface EventStreamOutputs {
  /** STREAM_URL: `kafka://...?auth=msk-iam...` or `kafka://<ns>.servicebus.windows.net:9093?auth=eventhubs...`. */
  readonly streamUrl: pulumi.Output<string>;
  /** The resource jobs are granted access to: MSK cluster ARN or Event Hubs namespace ID. */
  readonly streamId: pulumi.Output<string>;
}
