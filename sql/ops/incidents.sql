-- grain: one row per incident: a check that failed, from the run that first saw it fail until the run that saw it pass
-- A check that keeps failing stays one open incident (occurrences counts the runs); alerts are sent per incident.
create table if not exists ops.incidents (
  incident_id varchar(36) not null,
  check_id varchar(512) not null,
  check_type varchar(64) not null,
  table_name varchar(256) not null,
  status varchar(16) not null,
  severity varchar(16) not null,
  owner varchar(128) not null,
  opened_at timestamptz not null,
  resolved_at timestamptz,
  opened_run_id varchar(36) not null,
  last_seen_run_id varchar(36) not null,
  resolved_run_id varchar(36),
  last_seen_at timestamptz not null,
  occurrences bigint not null,
  failing_rows bigint not null,
  details varchar(4096)
);
