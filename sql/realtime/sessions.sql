-- grain: one row per clickstream session the stream service applied: when its first event occurred, and whether
-- it has a purchase. A session counts in the minute it started (realtime.session_minutes), so sessions add up to
-- hours and days; a late event that starts it earlier moves it to that minute.
create table if not exists realtime.sessions (
  session_id varchar(64) not null,
  started_at timestamptz not null,
  start_minute timestamptz not null,
  converted boolean not null,
  updated_at timestamptz not null
);
