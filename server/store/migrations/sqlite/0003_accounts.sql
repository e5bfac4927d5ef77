-- Accounts and sessions, care-circle invitations with consent, and an append-only audit log.

-- A session is a family of refresh tokens: login starts one, each refresh rotates within it.
-- Presenting a refresh token that was already used revokes the whole family (it was stolen, or
-- the legitimate client was). Access tokens carry the family id (`sid`), so a revoked session
-- stops working at once, not when its access token expires.
create table sessions (
    session_id integer primary key,
    user_id integer not null references users (user_id),
    created_ms integer not null,
    last_used_ms integer not null,
    client_ip text,
    revoked_ms integer,
    revoked_reason text check (revoked_reason in ('logout', 'reuse', 'password_change', 'admin'))
);
create index sessions_user on sessions (user_id);

alter table refresh_tokens add column session_id integer references sessions (session_id);
create index refresh_tokens_session on refresh_tokens (session_id);

-- Failed logins, per account (keyed by a hash of the name typed, so unknown names lock out the
-- same way and are not kept) and per client address.
create table login_failures (
    throttle_key text primary key,
    failures integer not null,
    window_start_ms integer not null,
    locked_until_ms integer
);

alter table users add column password_changed_ms integer;

-- A guardian may consent to invitations for the resident and read the resident's audit trail.
alter table care_circle add column guardian integer not null default 0;

-- Joining a care circle takes three things: an invitation (by staff in scope or a guardian),
-- consent on the resident's behalf (by a guardian, or recorded by staff in scope with how it was
-- obtained), and the invitee's acceptance. The membership is created by whichever comes last.
create table care_invitations (
    invitation_id integer primary key,
    resident_id integer not null references residents (resident_id),
    invitee_id integer not null references users (user_id),
    relationship text not null,
    guardian integer not null default 0,
    invited_by integer not null references users (user_id),
    created_ms integer not null,
    consent_by integer references users (user_id),
    consent_method text check (consent_method in
        ('guardian', 'resident_in_person', 'resident_written', 'guardian_in_person', 'legal_authority')),
    consent_note text,
    consent_ms integer,
    accepted_ms integer,
    closed_ms integer,
    closed_by integer references users (user_id),
    status text not null default 'pending' check (status in
        ('pending', 'consented', 'accepted', 'active', 'declined', 'cancelled', 'revoked'))
);
create index care_invitations_resident on care_invitations (resident_id, status);
create index care_invitations_invitee on care_invitations (invitee_id, status);

-- Where a request came from, for the audit trail.
alter table audit_log add column client_ip text;
create index audit_log_user on audit_log (user_id, at_ms);

-- The audit log is append-only for everyone, not only for the API.
create trigger audit_log_no_update before update on audit_log
begin
    select raise(abort, 'audit_log is append-only');
end;
create trigger audit_log_no_delete before delete on audit_log
begin
    select raise(abort, 'audit_log is append-only');
end;
