-- grain: one row per key event the key reconciliation saw: a source key gone from the source, or back in it
-- Written by `ecomm reconcile` (jobs/reconcile/), not loaded from the lake: the tombstones of hard deletes, which an
-- incremental extract on updated_at cannot see. key_event is 'deleted' or 'restored'; detected_at is the source's
-- clock when the reconciliation looked, last_updated_at the newest version the warehouse held then. Append-only:
-- silver takes each key's latest event (sql/README.md, "Deletes and key reconciliation").
create table if not exists bronze.source_deletes (
  source varchar(64) not null,
  key_text varchar(1024) not null,
  key_event varchar(16) not null,
  detected_at timestamptz not null,
  last_updated_at timestamptz,
  run_id varchar(36) not null,
  _batch_id varchar(128) not null,
  _ingested_at timestamptz not null default current_timestamp
);
