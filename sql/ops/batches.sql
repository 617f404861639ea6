-- grain: one row per raw batch (one extract window of a table, or one stream micro-batch): its journey through the lake
-- A batch whose own data or object fails a step is marked failed (failed_*) and leaves every queue until an operator
-- retries it (failed_* cleared) or skips it for good (skipped_at, skip_reason): `ecomm batches`, audited in
-- ops.batch_actions.
create table if not exists ops.batches (
  batch_id varchar(128) not null,
  source varchar(64) not null,
  source_kind varchar(8) not null,
  ingestion_date date not null,
  raw_key varchar(1024) not null,
  rows_raw bigint not null,
  extracted_at timestamptz not null,
  staged_key varchar(1024),
  quarantine_key varchar(1024),
  rows_staged bigint,
  rows_quarantined bigint,
  rows_rescued bigint,
  validated_at timestamptz,
  rows_loaded bigint,
  loaded_at timestamptz,
  failed_at timestamptz,
  failed_step varchar(16),
  failure_reason varchar(4096),
  failed_run_id varchar(36),
  skipped_at timestamptz,
  skip_reason varchar(4096)
);
