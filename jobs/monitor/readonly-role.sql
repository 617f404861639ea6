-- The monitor's read-only role on PostgreSQL (Azure Database for PostgreSQL; any PostgreSQL 15+).
-- Run once per warehouse AS THE ROLE THE JOBS CONNECT AS (the owner of the ops and gold tables, `ecomm_admin` in
-- infra/), so that the default privileges below cover the tables the jobs create later: every transform rebuilds
-- gold tables (create <name>__next, then rename), and a rebuilt table must stay readable by the monitor.
-- Then give the role a password out of band (never in this file), e.g. `\password ecomm_monitor` in psql, store it
-- in the secret store, and point the monitor's WAREHOUSE_URL at it:
--   postgres://ecomm_monitor@<host>:5432/<database>?sslmode=require&passwordSecret=MONITOR_WAREHOUSE_PASSWORD
-- What it may do: read ops (pipeline_runs, dq_findings, batches, operations, batch_actions, ...), gold and realtime (the
-- live KPI tables the stream service keeps). Nothing
-- else: no bronze or silver, no writes, no DDL, every transaction read-only, queries cut off after 15 s.
-- Idempotent: safe to run again (after a new schema or table, say).

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'ecomm_monitor') then
    create role ecomm_monitor login nosuperuser nocreatedb nocreaterole noinherit connection limit 10;
  end if;
end
$$;

-- Every transaction of the role starts read-only: a write fails even if a grant is added by mistake later.
alter role ecomm_monitor set default_transaction_read_only = on;
-- A monitor page is a handful of small queries; anything slower is a bug, not a reason to load the warehouse.
alter role ecomm_monitor set statement_timeout = '15s';

create schema if not exists realtime;
grant usage on schema ops, gold, realtime to ecomm_monitor;
grant select on all tables in schema ops, gold, realtime to ecomm_monitor;
-- Tables the jobs create from now on (gold rebuilds, new ops tables) are readable too.
alter default privileges in schema ops, gold, realtime grant select on tables to ecomm_monitor;
