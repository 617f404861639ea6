-- grain: one row per incremental model, input table and batch with rows after the build's cutoff: its row count
-- The rows the last build saw inside the lookback window, per batch: a batch with fewer rows at the next build was
-- removed (failed, skipped or reloaded) and the keys it supplied are recomputed (jobs/models/incremental.ts).
create table if not exists ops.model_build_batches (
  model varchar(128) not null,
  input_table varchar(128) not null,
  batch_id varchar(128) not null,
  row_count bigint not null
);
