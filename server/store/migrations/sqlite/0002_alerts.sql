-- Alerting: rule state, per-resident thresholds, alerts and their history, timers, escalation,
-- notifications and webhook deliveries.

-- The rules engine's per-resident state (baselines, windows), as JSON, so server instances stay
-- stateless.
create table resident_rule_state (
    resident_id integer primary key references residents (resident_id),
    state text not null,
    updated_ms integer not null
);

-- Per-resident overrides of the default thresholds (a JSON object), and every change to them.
create table resident_thresholds (
    resident_id integer primary key references residents (resident_id),
    overrides text not null,
    updated_ms integer not null,
    updated_by integer references users (user_id)
);
create table threshold_changes (
    change_id integer primary key,
    resident_id integer not null references residents (resident_id),
    changed_ms integer not null,
    changed_by integer references users (user_id),
    overrides text not null,
    previous text
);

-- One open alert per subject and condition. The subject is a resident ('r:<id>') or, for a
-- gateway that went offline, a household ('h:<id>').
create table alerts (
    alert_id integer primary key,
    subject text not null,
    resident_id integer references residents (resident_id),
    household_id integer not null references households (household_id),
    condition text not null,
    level text not null check (level in ('info', 'warning', 'urgent', 'critical')),
    status text not null check (status in ('open', 'acknowledged', 'resolved')),
    title text not null,
    evidence text not null,
    opened_ms integer not null,
    updated_ms integer not null,
    cleared_ms integer,
    acknowledged_ms integer,
    acknowledged_by integer references users (user_id),
    resolved_ms integer,
    resolved_by integer references users (user_id),
    resolution_note text,
    snoozed_until_ms integer,
    escalation_step integer not null default 0,
    next_escalation_ms integer
);
create unique index alerts_one_open on alerts (subject, condition) where status <> 'resolved';
create index alerts_household_status on alerts (household_id, status);
create index alerts_escalation_due on alerts (next_escalation_ms) where next_escalation_ms is not null;

-- Everything that happened to an alert, in order; also the feed of the live stream.
create table alert_events (
    event_id integer primary key,
    alert_id integer not null references alerts (alert_id),
    at_ms integer not null,
    kind text not null,
    user_id integer references users (user_id),
    note text,
    detail text not null default '{}'
);
create index alert_events_alert on alert_events (alert_id, event_id);

-- Timers of the rules (e.g. a fall's cancel window). Claimed by deleting them in the transaction
-- that acts on them, so each fires once across instances.
create table rule_timers (
    timer_key text not null,
    resident_id integer not null references residents (resident_id),
    due_ms integer not null,
    primary key (resident_id, timer_key)
);
create index rule_timers_due on rule_timers (due_ms);

-- Who is on duty for a part of the organisation, and at which tier of the escalation chain.
-- Minutes are local time of day; a shift may cross midnight (start > end).
create table duty_shifts (
    shift_id integer primary key,
    user_id integer not null references users (user_id),
    org_unit_id integer not null references org_units (org_unit_id),
    tier text not null check (tier in ('primary', 'backup', 'supervisor')),
    start_minute integer not null default 0,
    end_minute integer not null default 1440
);

-- Outgoing webhooks (an SMS gateway, a call centre...), signed with HMAC-SHA256.
create table webhooks (
    webhook_id integer primary key,
    url text not null,
    secret text not null,
    min_level text not null default 'urgent',
    active integer not null default 1,
    created_ms integer not null
);

-- Every notification of an alert: who or what, at which escalation step, on which channel.
create table notifications (
    notification_id integer primary key,
    alert_id integer not null references alerts (alert_id),
    step integer not null,
    channel text not null check (channel in ('live', 'webhook')),
    user_id integer references users (user_id),
    webhook_id integer references webhooks (webhook_id),
    created_ms integer not null,
    status text not null check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    next_attempt_ms integer,
    payload text not null
);
create index notifications_alert on notifications (alert_id);
create index notifications_due on notifications (next_attempt_ms) where status = 'pending';

-- Every delivery attempt of a webhook notification.
create table delivery_attempts (
    attempt_id integer primary key,
    notification_id integer not null references notifications (notification_id),
    at_ms integer not null,
    status_code integer,
    error text,
    duration_ms integer not null
);
create index delivery_attempts_notification on delivery_attempts (notification_id);

-- Per-resident silences (charging, hospital stay): no new notifications until the end.
create table silences (
    silence_id integer primary key,
    resident_id integer not null references residents (resident_id),
    until_ms integer not null,
    reason text not null,
    created_by integer references users (user_id),
    created_ms integer not null
);
create index silences_resident on silences (resident_id, until_ms);

-- What the silence rules need, kept on ingest so the sweeper never scans readings.
alter table devices add column last_reading_ms integer;
alter table devices add column battery_pct real;
