/**
 * The generator's output: source-table rows (column names exactly as in SOURCE_TABLES), the event messages
 * exactly as they go on the wire, and the manifest of every deliberately bad record.
 * Timestamps are ISO-8601 UTC strings with second precision (`2024-05-01T13:45:07Z`), dates `YYYY-MM-DD`,
 * money a number rounded to the currency's minor unit (2 decimals; 0 for JPY).
 */

export interface CustomerRow {
  customer_id: number;
  email: string;
  phone: string | null;
  first_name: string;
  last_name: string;
  street_address: string | null;
  city: string;
  country_code: string;
  loyalty_tier: string;
  signed_up_at: string;
  created_at: string;
  updated_at: string;
}

export interface ProductRow {
  product_id: number;
  sku: string;
  product_name: string;
  category: string;
  brand: string;
  unit_price: number;
  currency: string;
  is_active: boolean;
  created_at: string;
  updated_at: string;
}

export interface OrderRow {
  order_id: number;
  /** null only for injected `missing_id` anomalies. */
  customer_id: number | null;
  ordered_at: string;
  /** Outside ORDER_STATUSES only for injected `unknown_status` anomalies. */
  status: string;
  channel: string;
  currency: string;
  shipping_amount: number;
  created_at: string;
  updated_at: string;
}

export interface OrderItemRow {
  order_item_id: number;
  order_id: number;
  /** null only for injected `missing_id` anomalies. */
  product_id: number | null;
  quantity: number;
  /** Price of one unit in the order's currency (negative only for injected `negative_price` anomalies). */
  unit_price: number;
  /** Discount on the whole line, in the order's currency, 0 <= discount <= quantity * unit_price. */
  discount_amount: number;
  created_at: string;
  updated_at: string;
}

export interface FxRateRow {
  rate_date: string;
  currency: string;
  /** Units of USD per one unit of `currency`. */
  rate_to_usd: number;
  created_at: string;
  updated_at: string;
}

export interface SourceRows {
  customers: CustomerRow[];
  products: ProductRow[];
  orders: OrderRow[];
  order_items: OrderItemRow[];
  fx_rates: FxRateRow[];
}

export type SourceTableName = keyof SourceRows;

/** Each table's rows in write order: arrays, or streams that generate them anew on every iteration. */
export type SourceRowStreams = { [Table in SourceTableName]: Iterable<SourceRows[Table][number]> };

/** One message as published: value is JSON text (or, for `malformed_json` anomalies, broken text). */
export interface EventMessage {
  topic: string;
  /** session_id for clickstream, String(order_id) for order-events. */
  key: string;
  value: string;
  /** Epoch milliseconds of the event's occurred_at. */
  timestamp: number;
}

export type AnomalyKind =
  | 'negative_price'
  | 'unknown_status'
  | 'missing_id'
  | 'malformed_json'
  | 'wrong_type'
  | 'unknown_field'
  | 'duplicate_event'
  | 'late_event';

export type AnomalyExpectation = 'quarantine' | 'rescued' | 'deduplicated' | 'late';

export interface Anomaly {
  kind: AnomalyKind;
  /** Source table name or topic name. */
  source: string;
  /** Primary key value (tables), event_id (events), or the raw message text (malformed_json). */
  id: number | string;
  /** Which column or field is bad, e.g. `unit_price`, `customer_id`, `quantity`, `coupon_code`. */
  field?: string;
  expected: AnomalyExpectation;
}

export interface GenerateOptions {
  /** Integer seed: same seed, scale and asOf give byte-identical output. */
  seed: number;
  /** Multiplies every count linearly; 1 = ~1,000 customers, 5,000 orders, ~30k events. May be fractional. */
  scale: number;
  /** UTC midnight; the data covers the 30 days before it and nothing is later than it. */
  asOf: Date;
}

export interface GeneratedData {
  seed: number;
  scale: number;
  /** ISO string of asOf. */
  asOf: string;
  tables: SourceRows;
  /** Publish order: per topic by occurred_at, duplicates present twice, late events at the end. */
  events: EventMessage[];
  anomalies: Anomaly[];
}

export interface GenerateResult {
  /** Rows per source table and messages published per topic (duplicates counted twice). */
  counts: Record<string, number>;
  /** The manifest of the injected bad records (empty when the job was asked not to keep it). */
  anomalies: Anomaly[];
  /** How many bad records were injected. */
  anomalyCount: number;
  /** Topics whose retention is shorter than the generated history: how many events the broker will delete unread. */
  trimmedByRetention: { topic: string; retentionMs: number; events: number }[];
}
