-- eldercare: first schema. Times are Unix milliseconds (UTC) in integer columns, so the same
-- queries serve SQLite and PostgreSQL.

-- The organisation tree: district -> community -> grid. `path` is the materialised path of ids
-- ('/1/4/9/'), so "everything under this unit" is a prefix match.
create table org_units (
    org_unit_id integer primary key,
    parent_id integer references org_units (org_unit_id),
    kind text not null check (kind in ('district', 'community', 'grid')),
    name text not null,
    path text not null unique,
    time_zone text not null default 'Asia/Shanghai'
);

create table households (
    household_id integer primary key,
    org_unit_id integer not null references org_units (org_unit_id),
    name text not null
);

create table residents (
    resident_id integer primary key,
    household_id integer not null references households (household_id),
    full_name text not null,
    birth_year integer,
    created_ms integer not null
);
create index residents_household on residents (household_id);

create table users (
    user_id integer primary key,
    username text not null unique,
    password_hash text not null,
    role text not null check (role in ('admin', 'caregiver', 'family')),
    display_name text not null,
    created_ms integer not null
);

-- Staff and administrators see the residents under the units they are scoped to.
create table staff_scopes (
    user_id integer not null references users (user_id),
    org_unit_id integer not null references org_units (org_unit_id),
    primary key (user_id, org_unit_id)
);

-- Families see the residents in their care circle.
create table care_circle (
    user_id integer not null references users (user_id),
    resident_id integer not null references residents (resident_id),
    relationship text not null,
    created_ms integer not null,
    primary key (user_id, resident_id)
);
create index care_circle_resident on care_circle (resident_id);

create table gateways (
    gateway_id text primary key,
    household_id integer not null references households (household_id),
    created_ms integer not null,
    status text,
    status_ms integer
);

create table devices (
    device_id text primary key,
    gateway_id text not null references gateways (gateway_id),
    resident_id integer not null references residents (resident_id),
    kind text not null,
    created_ms integer not null
);
create index devices_gateway on devices (gateway_id);

-- Every accepted reading once: its identity is (gateway, device, seq) from the source.
create table readings (
    gateway_id text not null,
    device_id text not null,
    seq integer not null,
    resident_id integer not null,
    metric text not null,
    value real not null,
    measured_ms integer not null,
    received_ms integer not null,
    time_source text not null,
    primary key (gateway_id, device_id, seq)
);
create index readings_resident_metric_time on readings (resident_id, metric, measured_ms);

-- The newest value per resident and metric, kept on ingest so dashboards never scan history.
create table latest_vitals (
    resident_id integer not null,
    metric text not null,
    value real not null,
    measured_ms integer not null,
    device_id text not null,
    primary key (resident_id, metric)
);

-- What ingest could not accept, with the reason: nothing is dropped silently.
create table dead_letters (
    dead_letter_id integer primary key,
    received_ms integer not null,
    topic text not null,
    gateway_id text,
    device_id text,
    seq integer,
    reason text not null,
    payload blob not null
);
create index dead_letters_time on dead_letters (received_ms);
-- A resent reading that was refused before is not refused twice.
create unique index dead_letters_source on dead_letters (gateway_id, device_id, seq) where seq is not null;

-- Refresh tokens are stored hashed; a rotation marks the old one used.
create table refresh_tokens (
    token_hash text primary key,
    user_id integer not null references users (user_id),
    expires_ms integer not null,
    used integer not null default 0
);

-- Who read or did what. Append-only from the API.
create table audit_log (
    audit_id integer primary key,
    at_ms integer not null,
    user_id integer,
    action text not null,
    resident_id integer,
    detail text not null default ''
);
create index audit_log_resident on audit_log (resident_id, at_ms);
