-- grain: one row per record that failed its data contract, with every reason (the lake keeps the same in quarantine/)
-- source_key (a table row's key text, an event's event_id) and source_updated_at (a table row's updated_at) let the
-- key reconciliation count a quarantined version as known instead of re-extracting it every run; null for rows
-- loaded by an older release and for records too broken to name.
create table if not exists ops.quarantine_rows (
  batch_id varchar(128) not null,
  source varchar(64) not null,
  row_number bigint not null,
  reasons varchar(4096) not null,
  record varchar(65535),
  source_key varchar(1024),
  source_updated_at timestamptz
);
