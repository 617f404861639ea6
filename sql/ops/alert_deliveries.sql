-- grain: one row per alert to send: an incident's open (trigger) or resolve, on one channel (slack, pagerduty)
-- Written before the first attempt, so an alert is never lost: failed rows are retried by the next watchdog run.
create table if not exists ops.alert_deliveries (
  delivery_id varchar(36) not null,
  incident_id varchar(36) not null,
  channel varchar(16) not null,
  action varchar(16) not null,
  route varchar(128) not null,
  status varchar(16) not null,
  attempts bigint not null,
  last_error varchar(4096),
  run_id varchar(36) not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  delivered_at timestamptz
);
