/**
 * The event topics the platform consumes. Events are JSON objects; these are the declared fields
 * (anything else is rescued, not dropped). Every event has event_id (the dedup key) and occurred_at.
 */
import { type ColumnSpec, CUSTOMER_KEY, MONEY } from './source-tables.ts';

export const CLICKSTREAM_EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
] as const;

export const ORDER_EVENT_TYPES = ['order_created', 'order_status_changed'] as const;

/**
 * The versions of the order-events contract and the fields each requires beyond version 1 (docs/contracts.md): an
 * event names its version in `schema_version` (absent: 1); every version stays valid, so old producers keep flowing.
 * Version 2 carries the order's total and currency, so KPIs can be computed from the stream.
 */
export const ORDER_EVENT_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  '1': [],
  '2': ['order_total', 'currency'],
};

export interface EventTopicSpec {
  /** Kafka topic name; also the lake `source=` name. */
  topic: string;
  /** Bronze table holding this topic's events. */
  table: string;
  partitions: number;
  fields: ColumnSpec[];
}

export const EVENT_TOPICS: EventTopicSpec[] = [
  {
    topic: 'clickstream',
    table: 'clickstream_events',
    partitions: 3,
    fields: [
      { name: 'event_id', type: 'text' },
      { name: 'event_type', type: 'text' },
      { name: 'occurred_at', type: 'timestamptz' },
      { name: 'session_id', type: 'text' },
      { name: 'customer_id', type: 'int', nullable: true, derived: [CUSTOMER_KEY] },
      { name: 'device', type: 'text' },
      { name: 'page_url', type: 'text', nullable: true },
      { name: 'product_id', type: 'int', nullable: true },
      { name: 'quantity', type: 'int', nullable: true },
      { name: 'order_id', type: 'int', nullable: true },
      // Campaign parameters of the landing page (docs/generator.md): optional within version 1, since a producer
      // that predates them sends events without them and direct traffic has none (docs/contracts.md).
      { name: 'utm_source', type: 'text', nullable: true },
      { name: 'utm_medium', type: 'text', nullable: true },
      { name: 'utm_campaign', type: 'text', nullable: true },
    ],
  },
  {
    topic: 'order-events',
    table: 'order_events',
    partitions: 3,
    fields: [
      { name: 'event_id', type: 'text' },
      { name: 'event_type', type: 'text' },
      { name: 'occurred_at', type: 'timestamptz' },
      { name: 'order_id', type: 'int' },
      { name: 'status', type: 'text' },
      // Version 2 (ORDER_EVENT_VERSIONS): optional here, required by the version's record rule.
      { name: 'schema_version', type: 'int', nullable: true },
      { name: 'order_total', type: 'numeric', nullable: true, ...MONEY },
      { name: 'currency', type: 'text', nullable: true },
    ],
  },
];

export function eventTopic(topic: string): EventTopicSpec {
  const spec = EVENT_TOPICS.find((entry) => entry.topic === topic);
  if (!spec) throw new Error(`unknown event topic: ${topic}`);
  return spec;
}
