/**
 * The event topics the platform consumes. Events are JSON objects; these are the declared fields
 * (anything else is rescued, not dropped). Every event has event_id (the dedup key) and occurred_at.
 */
import { type ColumnSpec, CUSTOMER_KEY } from './source-tables.ts';

export const CLICKSTREAM_EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
] as const;

export const ORDER_EVENT_TYPES = ['order_created', 'order_status_changed'] as const;

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
    ],
  },
];

export function eventTopic(topic: string): EventTopicSpec {
  const spec = EVENT_TOPICS.find((entry) => entry.topic === topic);
  if (!spec) throw new Error(`unknown event topic: ${topic}`);
  return spec;
}
