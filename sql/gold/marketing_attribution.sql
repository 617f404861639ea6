-- grain: one row per included order (not cancelled, not deleted) tied to at least one browsing session
-- reads gold: an order's revenue as gold.fact_orders computes it (the one revenue rule), each session's landing campaign as gold.fact_sessions keeps it, and the sessions whose purchase names the order (gold.order_conversions)
-- test: not_null(order_id, order_date, ordered_at, customer_key, channel, net_amount_usd, session_count, touch_session_count)
-- test: not_null(first_touch_source, first_touch_medium, first_touch_campaign, last_touch_source, last_touch_medium, last_touch_campaign)
-- test: unique(order_id)
-- test: relationships(order_id; gold.fact_orders.order_id)
-- test: relationships(first_touch_session_id; gold.fact_sessions.session_id)
-- test: relationships(last_touch_session_id; gold.fact_sessions.session_id)
-- test: relationships(converting_session_id; gold.fact_sessions.session_id)
-- test: expression(session_count >= 1 and touch_session_count >= 0 and touch_session_count <= session_count)
-- test: expression(touch_session_count > 0 or (first_touch_source = '(direct)' and last_touch_source = '(direct)' and first_touch_session_id is null and last_touch_session_id is null))
-- test: expression(touch_session_count = 0 or (first_touch_session_id is not null and last_touch_session_id is not null and first_touch_at <= last_touch_at))
-- test: expression(net_amount_usd >= 0)
-- Attribution rule (sql/README.md, Gold business rules): an order's sessions are the sessions whose purchase event
-- names it, and the ordering customer's sessions (by customer_key) that started in the 30 days (2,592,000 seconds)
-- up to the order's ordered_at. Its touches are those of its sessions that landed with a utm_source; first touch is
-- the earliest by session start, last touch the latest (ties by session_id, byte order). Without a touch both are
-- '(direct)' / '(none)' / '(direct)', as web analytics label untagged traffic; a touch without a medium or a
-- campaign says '(not set)'. Revenue is the order's net_amount_usd: attributing sums it per source or campaign.
-- incremental: unique_key=order_id recompute_key=customer_key keyed_via=gold.fact_sessions.session_id:gold.order_conversions
-- Recomputed by the order's customer: a changed session changes the orders of its customer (the 30 days after it),
-- and, through gold.order_conversions, the orders it converted, whose customer may be another or unknown (so
-- fact_sessions is read whole by an increment). It joins fact tables only, never the clickstream. fact_sessions is
-- joined by name, not through an import CTE: PostgreSQL materializes a CTE read twice, and an increment then copied
-- and sorted every session (22k orders at scale 30: 0.71 s through the CTE, 0.21 s by name).
with orders as (
  select * from gold.fact_orders
  where not is_cancelled
),

conversions as (
  select * from gold.order_conversions
),

converting_sessions as (
  select
    conversions.order_id,
    conversions.session_id
  from conversions
  inner join orders
    on conversions.order_id = orders.order_id
),

customer_sessions as (
  select
    orders.order_id,
    sessions.session_id
  from orders
  inner join gold.fact_sessions sessions
    on orders.customer_key = sessions.customer_key
  where sessions.session_started_at <= orders.ordered_at
    and {{ seconds_between(sessions.session_started_at, orders.ordered_at) }} <= 2592000
),

order_sessions as (
  select order_id, session_id from converting_sessions
  union
  select order_id, session_id from customer_sessions
),

session_touches as (
  select
    order_sessions.order_id,
    order_sessions.session_id,
    sessions.session_started_at,
    sessions.utm_source,
    sessions.utm_medium,
    sessions.utm_campaign,
    row_number() over (
      partition by order_sessions.order_id
      order by
        case when sessions.utm_source is null then 1 else 0 end,
        sessions.session_started_at,
        {{ bytewise(order_sessions.session_id) }}
    ) as first_rank,
    row_number() over (
      partition by order_sessions.order_id
      order by
        case when sessions.utm_source is null then 1 else 0 end,
        sessions.session_started_at desc,
        {{ bytewise(order_sessions.session_id) }} desc
    ) as last_rank
  from order_sessions
  inner join gold.fact_sessions sessions
    on order_sessions.session_id = sessions.session_id
),

order_touches as (
  select
    order_id,
    count(*) as session_count,
    sum(case when utm_source is not null then 1 else 0 end) as touch_session_count,
    max(case when first_rank = 1 and utm_source is not null then session_id end) as first_touch_session_id,
    max(case when first_rank = 1 and utm_source is not null then session_started_at end) as first_touch_at,
    max(case when first_rank = 1 then utm_source end) as first_touch_source,
    max(case when first_rank = 1 and utm_source is not null then coalesce(utm_medium, '(not set)') end)
      as first_touch_medium,
    max(case when first_rank = 1 and utm_source is not null then coalesce(utm_campaign, '(not set)') end)
      as first_touch_campaign,
    max(case when last_rank = 1 and utm_source is not null then session_id end) as last_touch_session_id,
    max(case when last_rank = 1 and utm_source is not null then session_started_at end) as last_touch_at,
    max(case when last_rank = 1 then utm_source end) as last_touch_source,
    max(case when last_rank = 1 and utm_source is not null then coalesce(utm_medium, '(not set)') end)
      as last_touch_medium,
    max(case when last_rank = 1 and utm_source is not null then coalesce(utm_campaign, '(not set)') end)
      as last_touch_campaign
  from session_touches
  group by order_id
),

-- Two sessions naming one order (a retried confirmation page) keep the first by session_id, in byte order on both
-- engines (min() would follow PostgreSQL's collation).
ranked_purchases as (
  select
    order_id,
    session_id,
    row_number() over (partition by order_id order by {{ bytewise(session_id) }}) as purchase_rank
  from converting_sessions
),

first_purchases as (
  select
    order_id,
    session_id as converting_session_id
  from ranked_purchases
  where purchase_rank = 1
),

final as (
  select
    orders.order_id,
    orders.order_date,
    orders.ordered_at,
    orders.customer_key,
    orders.channel,
    orders.net_amount_usd,
    first_purchases.converting_session_id,
    cast(order_touches.session_count as integer) as session_count,
    cast(order_touches.touch_session_count as integer) as touch_session_count,
    order_touches.first_touch_session_id,
    order_touches.first_touch_at,
    coalesce(order_touches.first_touch_source, '(direct)') as first_touch_source,
    coalesce(order_touches.first_touch_medium, '(none)') as first_touch_medium,
    coalesce(order_touches.first_touch_campaign, '(direct)') as first_touch_campaign,
    order_touches.last_touch_session_id,
    order_touches.last_touch_at,
    coalesce(order_touches.last_touch_source, '(direct)') as last_touch_source,
    coalesce(order_touches.last_touch_medium, '(none)') as last_touch_medium,
    coalesce(order_touches.last_touch_campaign, '(direct)') as last_touch_campaign
  from orders
  inner join order_touches
    on orders.order_id = order_touches.order_id
  left join first_purchases
    on orders.order_id = first_purchases.order_id
)

select * from final
