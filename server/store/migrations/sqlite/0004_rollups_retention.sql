-- Rollups of readings, indexes for the API's queries, and one open invitation per person.

-- Count, sum, min and max of each resident's metric per minute, hour and day (span_ms 60000,
-- 3600000, 86400000; buckets aligned to the Unix epoch, so hours and days in UTC). Kept by ingest
-- in the transaction that stores the readings, and kept when raw readings are purged.
create table readings_rollup (
    resident_id integer not null,
    metric text not null,
    span_ms integer not null check (span_ms in (60000, 3600000, 86400000)),
    bucket_ms integer not null,
    n integer not null,
    sum_value real not null,
    min_value real not null,
    max_value real not null,
    primary key (resident_id, metric, span_ms, bucket_ms)
);

-- The readings stored so far.
insert into readings_rollup (resident_id, metric, span_ms, bucket_ms, n, sum_value, min_value, max_value)
select r.resident_id, r.metric, s.span_ms, r.measured_ms - ((r.measured_ms % s.span_ms) + s.span_ms) % s.span_ms,
       count(*), sum(r.value), min(r.value), max(r.value)
from readings r cross join (select 60000 as span_ms union all select 3600000 union all select 86400000) s
group by 1, 2, 3, 4;

-- Statistics and scope checks.
create index devices_resident on devices (resident_id);
create index households_org_unit on households (org_unit_id);
create index org_units_parent on org_units (parent_id);

-- Two open invitations for the same person and resident can not exist, even when created at once.
create unique index care_invitations_one_open on care_invitations (invitee_id, resident_id)
    where status in ('pending', 'consented', 'accepted');
