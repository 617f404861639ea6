-- grain: one row per browsing session (session_id), from its deduplicated clickstream events
-- test: not_null(session_id, session_started_at, session_ended_at, session_date, device, event_count)
-- test: unique(session_id)
-- test: expression(session_ended_at >= session_started_at and duration_seconds >= 0)
-- test: expression(event_count = page_view_count + product_view_count + add_to_cart_count + remove_from_cart_count + checkout_started_count + purchase_count)
-- incremental: unique_key=session_id lookback=1 hour
-- customer_key is null for anonymous sessions. A session keeps one device and one customer; max() only makes the
-- pick deterministic.
-- utm_*: the session's campaign, from its earliest event carrying a utm_source (the landing page view: UTM
-- parameters arrive on the URL the visitor landed on); null for direct traffic. Ties by event_id, byte order.
with events as (
  select * from silver.clickstream_events
),

tagged_events as (
  select
    session_id,
    utm_source,
    utm_medium,
    utm_campaign,
    row_number() over (
      partition by session_id
      order by occurred_at, {{ bytewise(event_id) }}
    ) as tag_rank
  from events
  where utm_source is not null
),

landing_campaigns as (
  select
    session_id,
    utm_source,
    utm_medium,
    utm_campaign
  from tagged_events
  where tag_rank = 1
),

sessions as (
  select
    session_id,
    min(occurred_at) as session_started_at,
    max(occurred_at) as session_ended_at,
    max(device) as device,
    max(customer_key) as customer_key,
    count(*) as event_count,
    sum(case when event_type = 'page_view' then 1 else 0 end) as page_view_count,
    sum(case when event_type = 'product_view' then 1 else 0 end) as product_view_count,
    sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_cart_count,
    sum(case when event_type = 'remove_from_cart' then 1 else 0 end) as remove_from_cart_count,
    sum(case when event_type = 'checkout_started' then 1 else 0 end) as checkout_started_count,
    sum(case when event_type = 'purchase' then 1 else 0 end) as purchase_count,
    sum(case when is_late then 1 else 0 end) as late_event_count
  from events
  group by session_id
),

final as (
  select
    sessions.session_id,
    session_started_at,
    session_ended_at,
    cast(session_started_at as date) as session_date,
    {{ seconds_between(session_started_at, session_ended_at) }} as duration_seconds,
    device,
    customer_key,
    cast(event_count as integer) as event_count,
    cast(page_view_count as integer) as page_view_count,
    cast(product_view_count as integer) as product_view_count,
    cast(add_to_cart_count as integer) as add_to_cart_count,
    cast(remove_from_cart_count as integer) as remove_from_cart_count,
    cast(checkout_started_count as integer) as checkout_started_count,
    cast(purchase_count as integer) as purchase_count,
    cast(late_event_count as integer) as late_event_count,
    case when product_view_count > 0 then true else false end as has_product_view,
    case when add_to_cart_count > 0 then true else false end as has_add_to_cart,
    case when purchase_count > 0 then true else false end as has_purchase,
    landing_campaigns.utm_source,
    landing_campaigns.utm_medium,
    landing_campaigns.utm_campaign
  from sessions
  left join landing_campaigns
    on sessions.session_id = landing_campaigns.session_id
)

select * from final
