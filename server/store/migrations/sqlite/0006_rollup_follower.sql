-- Rollups are written by a follower behind ingest instead of inside each ingest transaction
-- (`rollup.rs`). At district scale each reading cost three upserts there (minute, hour, day), a
-- quarter of the database's time; the follower adds a minute of readings at once, one upsert per
-- resident, metric and bucket.
--
-- `position`: every reading at or below it is in the rollups (or was rolled by ingest as late).
-- `announced_ms`: ingest stores no reading with a received time below it (it raises the time).
-- `safe_ms`: every reading measured before it is in the rollups; rollup queries read whole
-- buckets before it from the table, and raw readings from there on.
create table rollup_cursor (
    id integer primary key check (id = 1),
    position bigint not null,
    announced_ms bigint not null,
    safe_ms bigint not null
);
-- The readings stored so far were rolled up by ingest.
insert into rollup_cursor (id, position, announced_ms, safe_ms)
select 1, coalesce(max(rowid), 0), -4611686018427387904, -4611686018427387904 from readings;
