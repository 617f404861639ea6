-- grain: one row per minute (of occurred_at, UTC) and currency of the order events the stream service applied
-- Maintained by the stream service's applier in the transaction that brings silver.order_events up to date
-- (jobs/kpis/realtime.ts): every measure is a sum, so a round adds the events new to silver, and a day is the sum
-- of its minutes. currency 'XXX' (ISO 4217: no currency) holds the version 1 events, which carry no amount.
-- rate_to_usd is the day's rate from silver.fx_rates (1 for USD); null while the day has none: revenue_usd is then
-- null too (flagged as missing, never counted as zero) until a round finds the rate.
create table if not exists realtime.order_minutes (
  minute_start timestamptz not null,
  currency varchar(3) not null,
  orders integer not null,
  orders_with_total integer not null,
  order_total numeric(18,2) not null,
  cancellations integer not null,
  rate_to_usd numeric(18,8),
  revenue_usd numeric(18,2),
  updated_at timestamptz not null
);
