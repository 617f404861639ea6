-- grain: one row per record that failed its data contract, with every reason (the lake keeps the same in quarantine/)
create table if not exists ops.quarantine_rows (
  batch_id varchar(128) not null,
  source varchar(64) not null,
  row_number bigint not null,
  reasons varchar(4096) not null,
  record varchar(65535)
);
