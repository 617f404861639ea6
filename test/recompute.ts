import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';

/**
 * An independent recomputation of gold's sales figures straight from the OLTP tables, for end-to-end tests: the
 * revenue rule of sql/README.md applied to the source rows the pipeline can see (extractable: updated_at set and
 * not in the future) and the contracts accept (valid statuses, channels, amounts; ordered inside the plausible
 * time window), each order's net converted with its day's FX rate (USD at 1) and rounded to cents.
 */
const SURVIVING_SOURCE = `
  extractable_orders as (
    select * from orders where updated_at is not null and updated_at <= now()
  ), valid_orders as (
    select o.order_id, cast(o.ordered_at as date) as order_date, o.currency, o.status from extractable_orders o
    where o.status in ('pending', 'shipped', 'delivered', 'cancelled') and o.customer_id is not null
      and o.channel in ('web', 'mobile', 'store', 'marketplace') and o.shipping_amount >= 0
      and o.ordered_at >= timestamptz '2000-01-01 00:00:00+00' and o.ordered_at <= now() + interval '1 day'
  ), valid_lines as (
    select i.order_id, i.quantity * i.unit_price - i.discount_amount as net from order_items i
    where i.updated_at is not null and i.updated_at <= now()
      and i.product_id is not null and i.order_id is not null and i.quantity >= 1 and i.unit_price >= 0
      and i.discount_amount >= 0
  ), order_revenue as (
    select o.order_id, o.order_date, o.status,
      round(coalesce(sum(l.net), 0) * max(coalesce(f.rate_to_usd, case when o.currency = 'USD' then 1 end)), 2)
        as net_amount_usd
    from valid_orders o
    left join valid_lines l on l.order_id = o.order_id
    left join fx_rates f on f.rate_date = o.order_date and f.currency = o.currency
    group by o.order_id, o.order_date, o.status
  ), valid_customers as (
    select * from customers
    where updated_at is not null and updated_at <= now() and email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'
      and country_code ~ '^[A-Za-z]{2}$' and loyalty_tier in ('bronze', 'silver', 'gold', 'platinum')
      and octet_length(coalesce(city, '')) <= 65535 and octet_length(coalesce(street_address, '')) <= 65535
  )`;

/** One day of sales as gold.agg_daily_sales holds it, as text so the comparison is exact. */
export type DailySales = {
  order_date: string;
  order_count: number;
  revenue_usd: string;
  aov_usd: string | null;
  new_customers: number;
};

/** Daily sales straight from the source: every day from the first to the last order date, quiet days as zeros. */
export async function dailySalesFromSource(source: SqlDatabase): Promise<DailySales[]> {
  return source.query<DailySales>(
    `with ${SURVIVING_SOURCE}, days as (
       select cast(day as date) as order_date
       from generate_series((select min(order_date) from valid_orders), (select max(order_date) from valid_orders),
         interval '1 day') as day
     ), included as (
       select order_date, cast(count(*) as integer) as order_count, sum(net_amount_usd) as revenue_usd
       from order_revenue where status <> 'cancelled' group by order_date
     ), signups as (
       select cast(signed_up_at as date) as signup_date, cast(count(*) as integer) as new_customers
       from valid_customers group by cast(signed_up_at as date)
     )
     select cast(d.order_date as varchar) as order_date, coalesce(i.order_count, 0) as order_count,
       cast(cast(coalesce(i.revenue_usd, 0) as numeric(18, 2)) as varchar) as revenue_usd,
       cast(cast(round(i.revenue_usd / nullif(i.order_count, 0), 2) as numeric(18, 2)) as varchar) as aov_usd,
       coalesce(s.new_customers, 0) as new_customers
     from days d left join included i on i.order_date = d.order_date
       left join signups s on s.signup_date = d.order_date
     order by d.order_date`,
  );
}

/** The same figures as gold.agg_daily_sales holds them. */
export async function dailySalesFromGold(warehouse: SqlDatabase): Promise<DailySales[]> {
  return warehouse.query<DailySales>(
    `select cast(order_date as varchar) as order_date, order_count, cast(revenue_usd as varchar) as revenue_usd,
       cast(aov_usd as varchar) as aov_usd, new_customers
     from gold.agg_daily_sales order by order_date`,
  );
}

const ORDER_NET = 'select order_id, cast(net_amount_usd as varchar) as net_amount_usd from';

/** Each surviving order's net in USD, straight from the source, by order id. */
export async function orderNetFromSource(source: SqlDatabase): Promise<Record<string, unknown>[]> {
  return source.query(`with ${SURVIVING_SOURCE} ${ORDER_NET} order_revenue order by order_id`);
}

/** Each order's net in USD as gold.fact_orders holds it. */
export async function orderNetFromGold(warehouse: SqlDatabase): Promise<Record<string, unknown>[]> {
  return warehouse.query(`${ORDER_NET} gold.fact_orders order by order_id`);
}
