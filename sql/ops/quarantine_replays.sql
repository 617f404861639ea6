-- grain: one row per quarantined record re-validated by a replay: promoted into a replay batch, or still failing
-- The original quarantine object and ops.quarantine_rows stay as they were: this is the audit trail of the fix.
create table if not exists ops.quarantine_replays (
  batch_id varchar(128) not null,
  row_number bigint not null,
  replay_batch_id varchar(128) not null,
  status varchar(16) not null,
  reasons varchar(4096),
  run_id varchar(36) not null,
  replayed_at timestamptz not null
);
