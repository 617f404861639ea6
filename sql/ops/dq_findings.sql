-- grain: one row per data-quality check evaluated in a run (passing checks included, so trends have a denominator)
create table if not exists ops.dq_findings (
  run_id varchar(36) not null,
  check_id varchar(512) not null,
  layer varchar(16) not null,
  table_name varchar(256) not null,
  check_type varchar(64) not null,
  severity varchar(16) not null,
  status varchar(8) not null,
  failing_rows bigint not null,
  details varchar(4096),
  checked_at timestamptz not null
);
