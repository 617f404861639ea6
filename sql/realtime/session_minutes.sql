-- grain: one row per minute (UTC) in which sessions started: how many, and how many of them have a purchase
-- (conversion = converted_sessions / sessions). Recomputed from realtime.sessions for the minutes a round touched.
create table if not exists realtime.session_minutes (
  minute_start timestamptz not null,
  sessions integer not null,
  converted_sessions integer not null,
  updated_at timestamptz not null
);
