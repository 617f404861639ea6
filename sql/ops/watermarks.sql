-- grain: one row per source table: the updated_at up to which every row has been durably extracted to raw
create table if not exists ops.watermarks (
  source varchar(64) not null,
  watermark_at timestamptz not null,
  batch_id varchar(128) not null,
  moved_at timestamptz not null
);
