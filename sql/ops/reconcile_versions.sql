-- grain: one row per source table and key bronze holds: the newest updated_at among the key's bronze rows
-- The warehouse side of the key reconciliation, kept by it (jobs/reconcile/key-versions.ts): the batches loaded
-- since its last run are folded in, so a run reads one row per key instead of every version bronze ever received.
-- A table whose key is one integer column keeps key_number (key_text null); any other keeps key_text.
create table if not exists ops.reconcile_versions (
  source varchar(64) not null,
  key_number bigint,
  key_text varchar(1024),
  updated_at timestamptz
);
