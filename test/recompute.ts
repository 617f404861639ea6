import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';

/** One day of sales as a user checks it: revenue in USD, orders, average order value. */
export type DailySales = {
  order_date: string;
  revenue_usd: string;
  order_count: number;
  aov_usd: string;
};

/**
 * Daily sales computed straight from the OLTP tables, independently of the pipeline: the documented revenue rule
 * (sql/README.md) applied to the rows the contracts accept (valid, non-cancelled orders inside the plausible time
 * window; valid lines), each order's net converted with its day's FX rate and rounded to cents; AOV = revenue /
 * orders. `excludedOrders` are orders the caller knows must not count (deleted, in a skipped batch, ...).
 */
export async function dailySalesFromSource(
  source: SqlDatabase,
  options: { excludedOrders?: number[] } = {},
): Promise<DailySales[]> {
  const excluded = (options.excludedOrders ?? []).map((id) => Math.trunc(id));
  const rows = await source.query<DailySales>(
    `with valid_orders as (
       select o.order_id, cast(o.ordered_at as date) as order_date, o.currency from orders o
       where o.status in ('pending', 'shipped', 'delivered') and o.customer_id is not null
         and o.channel in ('web', 'mobile', 'store', 'marketplace') and o.shipping_amount >= 0
         and o.ordered_at >= timestamptz '2000-01-01 00:00:00+00' and o.ordered_at <= now() + interval '1 day'
         ${excluded.length > 0 ? `and o.order_id not in (${excluded.join(', ')})` : ''}
     ), valid_lines as (
       select i.order_id, i.quantity * i.unit_price - i.discount_amount as net from order_items i
       where i.product_id is not null and i.order_id is not null and i.quantity >= 1 and i.unit_price >= 0
         and i.discount_amount >= 0
     ), order_revenue as (
       select o.order_id, o.order_date, round(coalesce(sum(l.net), 0) * max(f.rate_to_usd), 2) as revenue_usd
       from valid_orders o
       left join valid_lines l on l.order_id = o.order_id
       join fx_rates f on f.rate_date = o.order_date and f.currency = o.currency
       group by o.order_id, o.order_date
     )
     select cast(order_date as varchar) as order_date, cast(sum(revenue_usd) as varchar) as revenue_usd,
       cast(count(*) as integer) as order_count, cast(round(sum(revenue_usd) / count(*), 2) as varchar) as aov_usd
     from order_revenue group by order_date order by order_date`,
  );
  return normalise(rows);
}

/** The same figures as gold.agg_daily_sales holds them (days without orders left out, as the source has none). */
export async function dailySalesFromGold(warehouse: SqlDatabase): Promise<DailySales[]> {
  const rows = await warehouse.query<DailySales>(
    `select cast(order_date as varchar) as order_date, cast(revenue_usd as varchar) as revenue_usd,
       cast(order_count as integer) as order_count, cast(aov_usd as varchar) as aov_usd
     from gold.agg_daily_sales where order_count > 0 order by order_date`,
  );
  return normalise(rows);
}

function normalise(rows: DailySales[]): DailySales[] {
  return rows.map((row) => ({
    order_date: row.order_date,
    order_count: Number(row.order_count),
    revenue_usd: Number(row.revenue_usd).toFixed(2),
    aov_usd: Number(row.aov_usd).toFixed(2),
  }));
}
