-- grain: one row per topic the stream service applied to silver: the newest event time it has applied, and when
-- (the monitor's live tiles show the newest event's age: how far behind the stream the KPIs are).
create table if not exists realtime.stream_progress (
  topic varchar(64) not null,
  newest_event_at timestamptz not null,
  applied_at timestamptz not null
);
