-- grain: one row per operator action on a batch (`ecomm batches retry|skip`): who, what, when, why, and the state before
-- The ledger row (ops.batches) holds the current state only; this is the audit trail of how it got there.
create table if not exists ops.batch_actions (
  batch_id varchar(128) not null,
  action varchar(16) not null,
  previous_status varchar(16) not null,
  previous_step varchar(16),
  previous_reason varchar(4096),
  reason varchar(4096),
  actor varchar(128),
  run_id varchar(36) not null,
  acted_at timestamptz not null
);
