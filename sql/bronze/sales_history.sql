-- grain: one row per extracted version of a historical day's sales in one currency (by sales_date, currency, updated_at)
-- Rows as received from the history stream sales_history (jobs/contracts/history-streams.ts, Snowflake's
-- DAILY_SALES_HISTORY): every column is text; silver casts.
create table if not exists bronze.sales_history (
  sales_date varchar(65535),
  currency varchar(65535),
  order_count varchar(65535),
  revenue varchar(65535),
  updated_at varchar(65535),
  _rescued_data varchar(65535),
  _batch_id varchar(128) not null,
  _source_file varchar(1024) not null,
  _ingested_at timestamptz not null default current_timestamp
);
