-- grain: one row per model and input table: what the model's last published build saw of that input
-- An incremental model's rows (mode full or incremental) are described here; a model rebuilt whole has rows of mode
-- whole (jobs/models/unchanged.ts): settled_fingerprint holds the input's state (a bronze table's batches hashed, or
-- when an input model was published), and an unchanged one keeps the model as published.
-- Written in the transaction that publishes the model (jobs/models/incremental.ts). The next build applies only the
-- input rows changed after cutoff_at (high_water_at minus the model's lookback); settled_fingerprint summarises the
-- rows at or before cutoff_at, so a row arriving there later (beyond the lookback) or leaving forces a full build.
create table if not exists ops.model_builds (
  model varchar(128) not null,
  input_table varchar(128) not null,
  sql_hash varchar(64) not null,
  high_water_at timestamptz not null,
  cutoff_at timestamptz not null,
  settled_fingerprint varchar(128) not null,
  mode varchar(16) not null,
  built_at timestamptz not null
);
