/**
 * The OLTP source tables the platform extracts, as one spec: the generator creates them from it, extract reads
 * the columns from it, validate builds the data contracts from it and bronze tables mirror it (as text).
 * Every table has updated_at: extraction is incremental on it. Column types: jobs/contracts/column-types.ts.
 */
import type { ColumnSpec } from './column-types.ts';
import type { DerivedColumn } from './pii.ts';

export type { ColumnSpec, ColumnType } from './column-types.ts';

export interface SourceTableSpec {
  name: string;
  primaryKey: string[];
  columns: ColumnSpec[];
}

export const ORDER_STATUSES = ['pending', 'shipped', 'delivered', 'cancelled'] as const;
export const ORDER_CHANNELS = ['web', 'mobile', 'store', 'marketplace'] as const;
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'AUD'] as const;
export const REPORTING_CURRENCY = 'USD';

/** Amounts in an order's or a product's currency: the OLTP columns are numeric(12, 2). */
/** Amounts of money, as the source's numeric(12, 2) columns hold them. */
export const MONEY = { precision: 12, scale: 2 } as const;

/**
 * customer_key, the keyed hash of customer_id: how gold joins facts to customers without the source's id. Every
 * source naming a customer derives it the same way, so the keys match across tables.
 */
export const CUSTOMER_KEY: DerivedColumn = { name: 'customer_key', kind: 'hmac' };

const audit: ColumnSpec[] = [
  { name: 'created_at', type: 'timestamptz' },
  { name: 'updated_at', type: 'timestamptz' },
];

export const SOURCE_TABLES: SourceTableSpec[] = [
  {
    name: 'customers',
    primaryKey: ['customer_id'],
    columns: [
      { name: 'customer_id', type: 'int', derived: [CUSTOMER_KEY] },
      {
        name: 'email',
        type: 'text',
        pii: 'email',
        derived: [
          { name: 'email_hash', kind: 'hmac' },
          { name: 'email_masked', kind: 'mask' },
        ],
      },
      {
        name: 'phone',
        type: 'text',
        nullable: true,
        pii: 'phone',
        derived: [{ name: 'phone_masked', kind: 'mask' }],
      },
      { name: 'first_name', type: 'text', pii: 'name' },
      { name: 'last_name', type: 'text', pii: 'name' },
      {
        name: 'street_address',
        type: 'text',
        nullable: true,
        pii: 'address',
        derived: [{ name: 'street_address_hash', kind: 'hmac' }],
      },
      { name: 'city', type: 'text' },
      { name: 'country_code', type: 'text' },
      { name: 'loyalty_tier', type: 'text' },
      { name: 'signed_up_at', type: 'timestamptz' },
      ...audit,
    ],
  },
  {
    name: 'products',
    primaryKey: ['product_id'],
    columns: [
      { name: 'product_id', type: 'int' },
      { name: 'sku', type: 'text' },
      { name: 'product_name', type: 'text' },
      { name: 'category', type: 'text' },
      { name: 'brand', type: 'text' },
      { name: 'unit_price', type: 'numeric', ...MONEY },
      { name: 'currency', type: 'text' },
      { name: 'is_active', type: 'bool' },
      ...audit,
    ],
  },
  {
    name: 'orders',
    primaryKey: ['order_id'],
    columns: [
      { name: 'order_id', type: 'int' },
      { name: 'customer_id', type: 'int', derived: [CUSTOMER_KEY] },
      { name: 'ordered_at', type: 'timestamptz' },
      { name: 'status', type: 'text' },
      { name: 'channel', type: 'text' },
      { name: 'currency', type: 'text' },
      { name: 'shipping_amount', type: 'numeric', ...MONEY },
      ...audit,
    ],
  },
  {
    name: 'order_items',
    primaryKey: ['order_item_id'],
    columns: [
      { name: 'order_item_id', type: 'int' },
      { name: 'order_id', type: 'int' },
      { name: 'product_id', type: 'int' },
      { name: 'quantity', type: 'int' },
      { name: 'unit_price', type: 'numeric', ...MONEY },
      { name: 'discount_amount', type: 'numeric', ...MONEY },
      ...audit,
    ],
  },
  {
    name: 'fx_rates',
    primaryKey: ['rate_date', 'currency'],
    columns: [
      { name: 'rate_date', type: 'date' },
      { name: 'currency', type: 'text' },
      // Units of the reporting currency (USD) per one unit of `currency`.
      { name: 'rate_to_usd', type: 'numeric', precision: 18, scale: 8 },
      ...audit,
      // The FX vendor (FX_SOURCE_URL, adapters/source/fx-http.ts) published nothing for the day: the rate is the last
      // published day's. The OLTP table has a rate for every day and no such column; silver reads absent as false.
      { name: 'is_carried_forward', type: 'bool', nullable: true, oltp: false },
    ],
  },
];

/** The columns the OLTP table has (all but those only another source of the table writes). */
export function oltpColumns(table: SourceTableSpec): ColumnSpec[] {
  return table.columns.filter((column) => column.oltp !== false);
}

export function sourceTable(name: string): SourceTableSpec {
  const spec = SOURCE_TABLES.find((table) => table.name === name);
  if (!spec) throw new Error(`unknown source table: ${name}`);
  return spec;
}
