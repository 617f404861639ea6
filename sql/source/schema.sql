-- OLTP source schema of the store (PostgreSQL). Created by `ecomm generate`; extract reads it incrementally on
-- updated_at. Mirrors SOURCE_TABLES in jobs/contracts/source-tables.ts.
--
-- Every non-key column is NULLABLE and there are no CHECK or FOREIGN KEY constraints on purpose: this is a
-- legacy system that holds bad rows (unknown statuses, negative prices, missing ids) and the platform must
-- quarantine them downstream, not have the source reject them.
-- The (updated_at, primary key) indexes serve the incremental extract: watermark filter plus keyset paging.

CREATE TABLE IF NOT EXISTS public.customers (
  customer_id    integer PRIMARY KEY,
  email          text,
  phone          text,
  first_name     text,
  last_name      text,
  street_address text,
  city           text,
  country_code   text,
  loyalty_tier   text,
  signed_up_at   timestamptz,
  created_at     timestamptz,
  updated_at     timestamptz
);
CREATE INDEX IF NOT EXISTS customers_updated_at_idx ON public.customers (updated_at, customer_id);

CREATE TABLE IF NOT EXISTS public.products (
  product_id   integer PRIMARY KEY,
  sku          text,
  product_name text,
  category     text,
  brand        text,
  unit_price   numeric(12, 2),
  currency     text,
  is_active    boolean,
  created_at   timestamptz,
  updated_at   timestamptz
);
CREATE INDEX IF NOT EXISTS products_updated_at_idx ON public.products (updated_at, product_id);

CREATE TABLE IF NOT EXISTS public.orders (
  order_id        integer PRIMARY KEY,
  customer_id     integer,
  ordered_at      timestamptz,
  status          text,
  channel         text,
  currency        text,
  shipping_amount numeric(12, 2),
  created_at      timestamptz,
  updated_at      timestamptz
);
CREATE INDEX IF NOT EXISTS orders_updated_at_idx ON public.orders (updated_at, order_id);

CREATE TABLE IF NOT EXISTS public.order_items (
  order_item_id   integer PRIMARY KEY,
  order_id        integer,
  product_id      integer,
  quantity        integer,
  unit_price      numeric(12, 2),
  discount_amount numeric(12, 2),
  created_at      timestamptz,
  updated_at      timestamptz
);
CREATE INDEX IF NOT EXISTS order_items_updated_at_idx ON public.order_items (updated_at, order_item_id);

CREATE TABLE IF NOT EXISTS public.fx_rates (
  rate_date   date,
  currency    text,
  -- Units of USD per one unit of currency (8 decimals: JPY is ~0.0067).
  rate_to_usd numeric(18, 8),
  created_at  timestamptz,
  updated_at  timestamptz,
  PRIMARY KEY (rate_date, currency)
);
CREATE INDEX IF NOT EXISTS fx_rates_updated_at_idx ON public.fx_rates (updated_at, rate_date, currency);
