-- grain: one row per order line (its latest version by updated_at)
-- test: not_null(order_item_id, order_id, product_id, quantity, unit_price, discount_amount, _processed_at)
-- test: unique(order_item_id)
-- test: expression(quantity > 0)
-- test: expression(unit_price >= 0)
-- test: expression(discount_amount >= 0 and discount_amount <= quantity * unit_price)
-- test[warn]: relationships(order_id; silver.orders.order_id)
-- test[warn]: relationships(product_id; silver.products.product_id)
-- test: not_null(is_deleted)
-- test: expression(is_deleted = (deleted_at is not null))
-- incremental: unique_key=order_item_id lookback=1 hour
-- A hard-deleted line stays, flagged: is_deleted when its latest tombstone is newer than its latest version.
-- Prices and discounts are in the order's currency (silver.orders.currency).
-- reads silver: deleted_keys holds the hard deletes the key reconciliation saw, for every table in one place
with source as (
  select * from bronze.order_items
),

renamed as (
  select
    {{ cast_column(order_items.order_item_id) }} as order_item_id,
    {{ cast_column(order_items.order_id) }} as order_id,
    {{ cast_column(order_items.product_id) }} as product_id,
    {{ cast_column(order_items.quantity) }} as quantity,
    {{ cast_column(order_items.unit_price) }} as unit_price,
    {{ cast_column(order_items.discount_amount) }} as discount_amount,
    {{ cast_column(order_items.created_at) }} as created_at,
    {{ cast_column(order_items.updated_at) }} as updated_at,
    _batch_id,
    _ingested_at
  from source
),

ranked as (
  select
    renamed.*,
    row_number() over (
      partition by order_item_id
      order by updated_at desc, _ingested_at desc, _batch_id desc
    ) as version_rank
  from renamed
),

deletes as (
  select
    key_text,
    deleted_at
  from silver.deleted_keys
  where source = 'order_items'
),

final as (
  select
    order_item_id,
    order_id,
    product_id,
    quantity,
    unit_price,
    discount_amount,
    created_at,
    updated_at,
    case when deletes.deleted_at > ranked.updated_at then true else false end as is_deleted,
    case when deletes.deleted_at > ranked.updated_at then deletes.deleted_at end as deleted_at,
    _batch_id,
    _ingested_at as _processed_at
  from ranked
  left join deletes
    on deletes.key_text = cast(ranked.order_item_id as varchar(20))
  where version_rank = 1
)

select * from final
