/**
 * Everything the watchdog checks, declared in one place: per table its freshness SLA, volume anomaly, null
 * thresholds and references, plus custom business rules as SQL. Each check names its severity (routing: critical
 * and blocking page and post, warn posts, info only records) and its owner (routing key of ALERT_ROUTES).
 *
 * Adding a check is adding an entry here; the watchdog needs no other change. Every SQL text must run on
 * PostgreSQL and Redshift (sql/README.md, portability rules).
 */
import { OWNERS } from '../alerts/owners.ts';
import type { AlertSeverity } from '../alerts/routing.ts';

/** How stale a table may get. */
export interface FreshnessRule {
  /** Minutes since the last new data (or last successful build) before the check fails. */
  slaMinutes: number;
  severity: AlertSeverity;
  /**
   * `{ column }`: the newest value of a timestamp column (bronze `_ingested_at`: when data last arrived).
   * `{ pipelineStep }`: the last successful (or nothing-to-do) ops.pipeline_runs row of a job step (gold models
   * hold no processing timestamps by design, so their freshness is their last build).
   */
  measure: { column: string } | { pipelineStep: { job: string; step: string } };
}

/** Rows per day against the same table's trailing days. */
export interface VolumeRule {
  /** SQL giving each row's day (a date or timestamp column). */
  dayExpression: string;
  severity: AlertSeverity;
  /** Days of history before the judged day (default 14). */
  windowDays?: number;
  /** History days needed before judging at all (default 7): a new table is not flagged for being new. */
  minHistoryDays?: number;
  /** |z| above this fails (default 3). */
  zThreshold?: number;
}

export interface NullRule {
  /** Column -> highest fraction of nulls allowed (0 = none). */
  columns: Record<string, number>;
  severity: AlertSeverity;
}

export interface ReferenceRule {
  column: string;
  /** `<schema>.<table>.<column>` the values must exist in. */
  references: string;
  severity: AlertSeverity;
  /** Fraction of orphan rows tolerated (default 0), for known upstream gaps such as quarantined parents. */
  maxOrphanFraction?: number;
}

export interface TableRules {
  /** `<schema>.<table>` */
  table: string;
  owner: string;
  freshness?: FreshnessRule;
  volume?: VolumeRule;
  nulls?: NullRule;
  references?: ReferenceRule[];
}

/** A business rule: a query returning the rows that break it (zero rows = pass). */
export interface BusinessRule {
  /** Stable id, used in check ids and incidents: lowercase words with underscores. */
  name: string;
  description: string;
  /** The table the rule is about (for lineage and incident grouping). */
  table: string;
  owner: string;
  severity: AlertSeverity;
  sql: string;
}

/** Seeds' SLAs: batch data within 75 minutes, streams within 5; daily FX within a day and a bit. */
const BATCH_SLA = 75;
const STREAM_SLA = 5;
const DAILY_SLA = 26 * 60;

const bronzeBatch = (table: string, slaMinutes = BATCH_SLA): TableRules => ({
  table: `bronze.${table}`,
  owner: OWNERS.platform,
  freshness: { slaMinutes, severity: 'warn', measure: { column: '_ingested_at' } },
});

const goldBuild = (table: string, severity: AlertSeverity = 'warn'): FreshnessRule => ({
  slaMinutes: BATCH_SLA,
  severity,
  measure: { pipelineStep: { job: 'transform', step: `gold.${table}` } },
});

export const TABLE_RULES: TableRules[] = [
  bronzeBatch('orders'),
  bronzeBatch('order_items'),
  // Slowly changing: a quiet source sends nothing new for hours; the last confirmed extract is the measure.
  {
    table: 'bronze.customers',
    owner: OWNERS.platform,
    freshness: {
      slaMinutes: BATCH_SLA,
      severity: 'warn',
      measure: { pipelineStep: { job: 'extract', step: 'customers' } },
    },
  },
  {
    table: 'bronze.products',
    owner: OWNERS.platform,
    freshness: {
      slaMinutes: BATCH_SLA,
      severity: 'warn',
      measure: { pipelineStep: { job: 'extract', step: 'products' } },
    },
  },
  bronzeBatch('fx_rates', DAILY_SLA),
  {
    table: 'bronze.clickstream_events',
    owner: OWNERS.platform,
    freshness: { slaMinutes: STREAM_SLA, severity: 'warn', measure: { column: '_ingested_at' } },
  },
  {
    table: 'bronze.order_events',
    owner: OWNERS.platform,
    freshness: { slaMinutes: STREAM_SLA, severity: 'warn', measure: { column: '_ingested_at' } },
  },
  {
    table: 'silver.orders',
    owner: OWNERS.commerce,
    volume: { dayExpression: 'order_date', severity: 'warn' },
    nulls: { columns: { customer_id: 0, currency: 0, channel: 0 }, severity: 'blocking' },
    references: [{ column: 'customer_id', references: 'silver.customers.customer_id', severity: 'warn' }],
  },
  {
    table: 'silver.order_items',
    owner: OWNERS.commerce,
    nulls: { columns: { product_id: 0, order_id: 0 }, severity: 'blocking' },
    references: [
      // Items of orders that failed their contract are kept (the order sits in quarantine): ~1% is expected.
      { column: 'order_id', references: 'silver.orders.order_id', severity: 'warn', maxOrphanFraction: 0.02 },
      {
        column: 'product_id',
        references: 'silver.products.product_id',
        severity: 'warn',
        maxOrphanFraction: 0.02,
      },
    ],
  },
  {
    table: 'silver.customers',
    owner: OWNERS.platform,
    nulls: {
      // The source leaves phone empty for ~10% of customers and the street address for ~3%.
      columns: {
        email_hash: 0,
        country_code: 0,
        signed_up_at: 0,
        phone_masked: 0.2,
        street_address_hash: 0.1,
      },
      severity: 'warn',
    },
  },
  {
    table: 'silver.clickstream_events',
    owner: OWNERS.growth,
    volume: { dayExpression: 'event_date', severity: 'warn' },
    nulls: { columns: { session_id: 0, device: 0 }, severity: 'warn' },
  },
  {
    table: 'silver.order_events',
    owner: OWNERS.commerce,
    volume: { dayExpression: 'event_date', severity: 'warn' },
  },
  {
    table: 'gold.fact_orders',
    owner: OWNERS.commerce,
    freshness: goldBuild('fact_orders', 'blocking'),
    nulls: { columns: { fx_rate_to_usd: 0, net_amount_usd: 0 }, severity: 'critical' },
    references: [
      { column: 'customer_key', references: 'gold.dim_customers.customer_key', severity: 'blocking' },
    ],
  },
  {
    table: 'gold.fact_order_line_items',
    owner: OWNERS.commerce,
    freshness: goldBuild('fact_order_line_items'),
    references: [
      { column: 'order_id', references: 'gold.fact_orders.order_id', severity: 'blocking' },
      { column: 'product_id', references: 'gold.dim_products.product_id', severity: 'blocking' },
    ],
  },
  {
    table: 'gold.agg_daily_sales',
    owner: OWNERS.finance,
    freshness: goldBuild('agg_daily_sales'),
  },
  {
    table: 'gold.agg_sales_kpi',
    owner: OWNERS.commerce,
    freshness: goldBuild('agg_sales_kpi'),
  },
  { table: 'gold.fact_sessions', owner: OWNERS.growth, freshness: goldBuild('fact_sessions') },
  {
    table: 'gold.dim_customers',
    owner: OWNERS.platform,
    freshness: goldBuild('dim_customers'),
  },
  {
    table: 'gold.dim_products',
    owner: OWNERS.platform,
    freshness: goldBuild('dim_products'),
  },
];

export const BUSINESS_RULES: BusinessRule[] = [
  {
    name: 'daily_revenue_reconciles',
    description: 'agg_daily_sales revenue equals the sum of included orders in fact_orders, per day',
    table: 'gold.agg_daily_sales',
    owner: OWNERS.finance,
    severity: 'critical',
    sql: `select d.order_date, d.revenue_usd, coalesce(f.revenue_usd, 0) as recomputed_usd
      from gold.agg_daily_sales d
      left join (
        select order_date, sum(net_amount_usd) as revenue_usd
        from gold.fact_orders where not is_cancelled group by order_date
      ) f on f.order_date = d.order_date
      where abs(d.revenue_usd - coalesce(f.revenue_usd, 0)) > 0.005`,
  },
  {
    name: 'order_units_match_lines',
    description: 'each order counts as many units as its lines hold',
    table: 'gold.fact_orders',
    owner: OWNERS.commerce,
    severity: 'blocking',
    sql: `select o.order_id, o.item_count, coalesce(l.units, 0) as line_units
      from gold.fact_orders o
      left join (
        select order_id, sum(quantity) as units from gold.fact_order_line_items group by order_id
      ) l on l.order_id = o.order_id
      where o.item_count <> coalesce(l.units, 0)`,
  },
  {
    name: 'orders_not_updated_before_placed',
    description: 'no order was last updated before it was placed',
    table: 'silver.orders',
    owner: OWNERS.platform,
    severity: 'warn',
    sql: 'select order_id, ordered_at, updated_at from silver.orders where updated_at < ordered_at',
  },
];
