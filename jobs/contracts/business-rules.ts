import { CLICKSTREAM_EVENT_TYPES, ORDER_EVENT_TYPES, ORDER_EVENT_VERSIONS } from './event-topics.ts';
import { CURRENCIES, ORDER_CHANNELS, ORDER_STATUSES } from './source-tables.ts';

/** A rule on one field's value (as text), checked after its type; the message is the quarantine reason. */
export interface FieldRule {
  holds(value: string): boolean;
  message: string;
}

const oneOf = (allowed: readonly string[]): FieldRule => ({
  holds: (value) => allowed.includes(value),
  message: `must be one of ${allowed.join(', ')}`,
});
const atLeast = (minimum: number): FieldRule => ({
  holds: (value) => Number(value) >= minimum,
  message: `must be >= ${minimum}`,
});
const positive: FieldRule = { holds: (value) => Number(value) > 0, message: 'must be > 0' };
/** At most `limit` characters once trimmed, as silver keeps it: a URL parameter, not a document. */
const shortText = (limit: number): FieldRule => ({
  holds: (value) => value.trim().length <= limit,
  message: `must be at most ${limit} characters`,
});
const notBlank: FieldRule = { holds: (value) => value.trim() !== '', message: 'must not be blank' };

/**
 * Longest UTM value kept: analytics tools cap campaign parameters at a few hundred characters (GA4 at 100), so a
 * longer one is a broken link or an injected payload, not a campaign name.
 */
export const UTM_MAX_CHARACTERS = 255;

/** The expectations of the seeds (valid id, valid status, price >= 0) and the ones a store's data implies. */
export const BUSINESS_RULES: Record<string, Record<string, FieldRule>> = {
  customers: {
    email: {
      holds: (value) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value.trim()),
      message: 'must be an email address',
    },
    country_code: {
      holds: (value) => /^[A-Za-z]{2}$/.test(value),
      message: 'must be a 2-letter country code',
    },
    loyalty_tier: oneOf(['bronze', 'silver', 'gold', 'platinum']),
  },
  products: {
    sku: notBlank,
    unit_price: atLeast(0),
    currency: oneOf(CURRENCIES),
  },
  orders: {
    status: oneOf(ORDER_STATUSES),
    channel: oneOf(ORDER_CHANNELS),
    currency: oneOf(CURRENCIES),
    shipping_amount: atLeast(0),
  },
  order_items: {
    quantity: atLeast(1),
    unit_price: atLeast(0),
    discount_amount: atLeast(0),
  },
  fx_rates: {
    currency: oneOf(CURRENCIES),
    rate_to_usd: positive,
  },
  sales_history: {
    currency: oneOf(CURRENCIES),
    order_count: atLeast(0),
    revenue: atLeast(0),
  },
  clickstream: {
    event_id: notBlank,
    event_type: oneOf(CLICKSTREAM_EVENT_TYPES),
    session_id: notBlank,
    quantity: atLeast(1),
    utm_source: shortText(UTM_MAX_CHARACTERS),
    utm_medium: shortText(UTM_MAX_CHARACTERS),
    utm_campaign: shortText(UTM_MAX_CHARACTERS),
  },
  'order-events': {
    event_id: notBlank,
    event_type: oneOf(ORDER_EVENT_TYPES),
    status: oneOf(ORDER_STATUSES),
    schema_version: oneOf(Object.keys(ORDER_EVENT_VERSIONS)),
    order_total: atLeast(0),
    currency: oneOf(CURRENCIES),
  },
};

/** A rule across a record's checked values (text, null when absent): a reason when it fails, else null. */
export type RecordRule = (fieldValue: (column: string) => string | null) => string | null;

/** A versioned contract: the fields the record's declared version (`schema_version`, absent: 1) requires. */
const versionRequires =
  (versions: Readonly<Record<string, readonly string[]>>): RecordRule =>
  (fieldValue) => {
    const version = fieldValue('schema_version') ?? '1';
    const missing = (versions[version] ?? []).filter((column) => fieldValue(column) === null);
    return missing.length === 0 ? null : `schema_version ${version} requires ${missing.join(', ')}`;
  };

/** Rules over a whole record, checked once its fields passed. */
export const RECORD_RULES: Record<string, RecordRule[]> = {
  'order-events': [versionRequires(ORDER_EVENT_VERSIONS)],
};
