-- Reading positions straight from the sequence. Ingest takes its transaction id once per
-- transaction before inserting (`tx.rs`), which is what the live feed needs (`feed.rs`); the
-- PL/pgSQL default of 0001 did that for every row, and cost ~3.5 µs a row.
alter table readings alter column rowid set default nextval('readings_rowid_seq');
drop function next_reading_rowid();
