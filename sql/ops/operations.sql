-- grain: one row per recovery operation an operator ran (`ecomm backfill`, `ecomm rebuild`): who, when, what, which batches, how it ended
-- Written when the operation starts (status running) and updated when it ends (succeeded or failed, with a message), so
-- an operation that died midway still shows who started what. batch_ids lists the batches it wrote or loaded.
create table if not exists ops.operations (
  run_id varchar(36) not null,
  operation varchar(16) not null,
  actor varchar(128),
  parameters varchar(4096) not null,
  status varchar(16) not null,
  batch_ids varchar(65535),
  message varchar(4096),
  started_at timestamptz not null,
  finished_at timestamptz
);
