-- grain: one row per lease that is held: who runs the batch pipeline on this warehouse now (`ecomm run` and the batch
-- jobs run by hand take the same lease, so two never overlap). Taken and renewed in a transaction that locks this
-- table (no advisory locks or ON CONFLICT on Redshift); a holder renews heartbeat_at and expires_at on a timer, a
-- lease past expires_at may be taken over (its holder died), and the row is deleted on release.
create table if not exists ops.run_leases (
  lease_name varchar(64) not null,
  holder_run_id varchar(36) not null,
  holder_job varchar(64) not null,
  holder_execution_id varchar(128),
  acquired_at timestamptz not null,
  heartbeat_at timestamptz not null,
  expires_at timestamptz not null
);
