-- grain: one row per retention gap found: events of one topic partition the broker deleted before the pipeline read them
-- Found before a stream path consumes a partition: the group's next offset (its committed offset; with none, the next
-- offset after the ledger's last batch of the partition; with neither, 0) is below the partition's log start offset.
-- The events in between are gone from the broker for good; the row stays (and its incident open) until acknowledged.
create table if not exists ops.stream_gaps (
  topic varchar(256) not null,
  partition_id integer not null,
  group_id varchar(256) not null,
  expected_offset bigint not null,
  log_start_offset bigint not null,
  events_lost bigint not null,
  basis varchar(16) not null,
  detected_at timestamptz not null,
  run_id varchar(36) not null,
  acknowledged_at timestamptz,
  acknowledged_by varchar(128),
  acknowledge_reason varchar(4096)
);
