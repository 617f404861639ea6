-- grain: one row per source table and bronze batch folded into ops.reconcile_versions: its rows and newest arrival
-- A batch whose rows or newest _ingested_at differ in bronze now (reloaded, or taken out as failed or skipped) makes
-- the next reconciliation fold the table's bronze again from scratch (jobs/reconcile/key-versions.ts).
create table if not exists ops.reconcile_batches (
  source varchar(64) not null,
  batch_id varchar(128) not null,
  row_count bigint not null,
  newest_ingested_at varchar(40) not null
);
