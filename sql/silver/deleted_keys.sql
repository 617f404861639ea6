-- grain: one row per source key whose latest key event is a deletion: a hard delete the key reconciliation saw
-- test: not_null(source, key_text, deleted_at)
-- test: unique(source, key_text)
-- Tombstones: bronze.source_deletes, written by `ecomm reconcile`, append-only. A key's latest event wins, so a key
-- back in the source (a 'restored' event after the deletion) is not here. The table models flag a row deleted when
-- this deletion is newer than the row's latest version (sql/README.md, "Deletes and key reconciliation").
with key_events as (
  select
    source,
    key_text,
    key_event,
    detected_at,
    row_number() over (partition by source, key_text order by detected_at desc, _ingested_at desc) as event_rank
  from bronze.source_deletes
),

final as (
  select
    source,
    key_text,
    detected_at as deleted_at
  from key_events
  where event_rank = 1 and key_event = 'deleted'
)

select * from final
