-- grain: one row per job step of a run (a whole job, one source table, or one batch)
-- Invariant 1 is audited here: for a validate step, rows_in = rows_out + rows_quarantined.
-- `ecomm run`'s own row (job run, step pipeline) is written at start as `running` and renewed (heartbeat_at) while the
-- run holds its lease; a row still running whose heartbeat is older than RUN_LEASE_SECONDS is marked `abandoned`.
-- execution_id groups the attempts of one scheduled execution; resumed_from_run_id names the attempt it resumed.
create table if not exists ops.pipeline_runs (
  run_id varchar(36) not null,
  job varchar(64) not null,
  step varchar(256) not null,
  batch_id varchar(128),
  status varchar(16) not null,
  started_at timestamptz not null,
  finished_at timestamptz,
  duration_ms bigint,
  rows_in bigint,
  rows_out bigint,
  rows_quarantined bigint,
  message varchar(4096),
  heartbeat_at timestamptz,
  execution_id varchar(128),
  resumed_from_run_id varchar(36)
);
