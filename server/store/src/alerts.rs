//! Alerts as people see and handle them: the scoped inbox, acknowledge / resolve / snooze, the
//! history of each alert and the notifications it caused.

use serde::Serialize;

use crate::sql::Sql;
use crate::{Dialect, Role, Store, StoreError, Viewer};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertRow {
    pub alert_id: i64,
    pub resident_id: Option<i64>,
    pub household_id: i64,
    pub condition: String,
    pub level: String,
    pub status: String,
    pub title: String,
    pub evidence: String,
    pub opened_ms: i64,
    pub updated_ms: i64,
    pub cleared_ms: Option<i64>,
    pub acknowledged_ms: Option<i64>,
    pub acknowledged_by: Option<i64>,
    pub resolved_ms: Option<i64>,
    pub resolved_by: Option<i64>,
    pub resolution_note: Option<String>,
    pub snoozed_until_ms: Option<i64>,
    pub escalation_step: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertEventRow {
    pub event_id: i64,
    pub alert_id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub note: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct NotificationRow {
    pub notification_id: i64,
    pub alert_id: i64,
    pub step: i64,
    pub channel: String,
    pub user_id: Option<i64>,
    pub webhook_id: Option<i64>,
    pub created_ms: i64,
    pub status: String,
    pub attempts: i64,
}

/// Filters of the inbox.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `open`, `acknowledged`, `resolved`; `None` = not resolved.
    pub status: Option<String>,
    pub level: Option<String>,
    pub resident_id: Option<i64>,
    /// Only alerts with an id below this (paging, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Why an action on an alert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionRefused {
    /// Not found or not in the viewer's scope.
    NotFound,
    /// Already resolved: nothing more to do.
    Resolved,
}

const ALERT_COLUMNS: &str = "select a.alert_id, a.resident_id, a.household_id, a.condition, a.level, a.status, \
     a.title, a.evidence, a.opened_ms, a.updated_ms, a.cleared_ms, a.acknowledged_ms, a.acknowledged_by, \
     a.resolved_ms, a.resolved_by, a.resolution_note, a.snoozed_until_ms, a.escalation_step from alerts a";

const STAFF_SCOPE: &str = " where exists (select 1 from staff_scopes s join org_units su on su.org_unit_id = s.org_unit_id \
     join households h on h.household_id = a.household_id join org_units g on g.org_unit_id = h.org_unit_id \
     where s.user_id = $1 and substr(g.path, 1, length(su.path)) = su.path)";

const FAMILY_SCOPE: &str = " where exists (select 1 from care_circle c join residents r on r.resident_id = c.resident_id \
     where c.user_id = $1 and (c.resident_id = a.resident_id or (a.resident_id is null and r.household_id = a.household_id)))";

fn scoped(viewer: &Viewer) -> String {
    let scope = match viewer.role {
        Role::Admin | Role::Caregiver => STAFF_SCOPE,
        Role::Family => FAMILY_SCOPE,
    };
    format!("{ALERT_COLUMNS}{scope}")
}

impl Store {
    /// The alerts `viewer` may see, newest first.
    pub async fn list_alerts(&self, viewer: &Viewer, f: &AlertFilter) -> Result<Vec<AlertRow>, StoreError> {
        let mut q = Sql::default();
        q.arg(viewer.user_id);
        q.push(scoped(viewer));
        match &f.status {
            Some(s) => {
                q.push(" and a.status = ").bind(s.clone());
            }
            None => {
                q.push(" and a.status <> 'resolved'");
            }
        }
        if let Some(l) = &f.level {
            q.push(" and a.level = ").bind(l.clone());
        }
        if let Some(r) = f.resident_id {
            q.push(" and a.resident_id = ").bind(r);
        }
        if let Some(b) = f.before_id {
            q.push(" and a.alert_id < ").bind(b);
        }
        q.push(" order by a.alert_id desc limit ").bind(f.limit.clamp(1, 1000));
        Ok(q.query_as::<AlertRow>().fetch_all(&self.pool).await?)
    }

    /// One alert, if `viewer` may see it.
    pub async fn visible_alert(&self, viewer: &Viewer, alert_id: i64) -> Result<Option<AlertRow>, StoreError> {
        let sql = format!("{} and a.alert_id = $2", scoped(viewer));
        Ok(sqlx::query_as::<_, AlertRow>(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(alert_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Acknowledges (someone is on it): stops the escalation. Acknowledging again changes nothing.
    pub async fn acknowledge_alert(
        &self,
        viewer: &Viewer,
        alert_id: i64,
        note: Option<&str>,
        now_ms: i64,
    ) -> Result<Result<AlertRow, ActionRefused>, StoreError> {
        let Some(alert) = self.visible_alert(viewer, alert_id).await? else { return Ok(Err(ActionRefused::NotFound)) };
        match alert.status.as_str() {
            "resolved" => return Ok(Err(ActionRefused::Resolved)),
            "acknowledged" => return Ok(Ok(alert)),
            _ => {}
        }
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "update alerts set status = 'acknowledged', acknowledged_ms = $1, acknowledged_by = $2, \
             next_escalation_ms = null, updated_ms = $3 where alert_id = $4 and status = 'open'",
        )
        .bind(now_ms)
        .bind(viewer.user_id)
        .bind(now_ms)
        .bind(alert_id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 1 {
            tx.event(alert_id, now_ms, "acknowledged", Some(viewer.user_id), note, "{}").await?;
        }
        tx.commit().await?;
        Ok(self.visible_alert(viewer, alert_id).await?.ok_or(ActionRefused::NotFound))
    }

    /// Resolves with a note: the episode is over. A later return of the condition opens a new alert.
    pub async fn resolve_alert(
        &self,
        viewer: &Viewer,
        alert_id: i64,
        note: &str,
        now_ms: i64,
    ) -> Result<Result<AlertRow, ActionRefused>, StoreError> {
        let Some(alert) = self.visible_alert(viewer, alert_id).await? else { return Ok(Err(ActionRefused::NotFound)) };
        if alert.status == "resolved" {
            return Ok(Err(ActionRefused::Resolved));
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "update alerts set status = 'resolved', resolved_ms = $1, resolved_by = $2, resolution_note = $3, \
             acknowledged_ms = coalesce(acknowledged_ms, $4), acknowledged_by = coalesce(acknowledged_by, $5), \
             next_escalation_ms = null, updated_ms = $6 where alert_id = $7 and status <> 'resolved'",
        )
        .bind(now_ms)
        .bind(viewer.user_id)
        .bind(note)
        .bind(now_ms)
        .bind(viewer.user_id)
        .bind(now_ms)
        .bind(alert_id)
        .execute(tx.conn())
        .await?;
        tx.event(alert_id, now_ms, "resolved", Some(viewer.user_id), Some(note), "{}").await?;
        tx.commit().await?;
        Ok(self.visible_alert(viewer, alert_id).await?.ok_or(ActionRefused::NotFound))
    }

    /// Snoozes until `until_ms`: no reminders or escalation until then; then it resumes.
    pub async fn snooze_alert(
        &self,
        viewer: &Viewer,
        alert_id: i64,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<Result<AlertRow, ActionRefused>, StoreError> {
        let Some(alert) = self.visible_alert(viewer, alert_id).await? else { return Ok(Err(ActionRefused::NotFound)) };
        if alert.status == "resolved" {
            return Ok(Err(ActionRefused::Resolved));
        }
        let mut tx = self.begin().await?;
        sqlx::query(
            "update alerts set snoozed_until_ms = $1, updated_ms = $2, \
             next_escalation_ms = case when status = 'open' then $3 else next_escalation_ms end where alert_id = $4",
        )
        .bind(until_ms)
        .bind(now_ms)
        .bind(until_ms)
        .bind(alert_id)
        .execute(tx.conn())
        .await?;
        let detail = format!("{{\"until_ms\":{until_ms}}}");
        tx.event(alert_id, now_ms, "snoozed", Some(viewer.user_id), None, &detail).await?;
        tx.commit().await?;
        Ok(self.visible_alert(viewer, alert_id).await?.ok_or(ActionRefused::NotFound))
    }

    /// An alert `viewer` may see, with its history (oldest first) and the notifications it
    /// caused with their delivery state, all read from one snapshot; `None` when out of scope.
    ///
    /// An escalation step moves the alert's step and writes its event and its notifications in
    /// one transaction; read in separate statements, a step committing in between showed its
    /// notifications without the event that explains them.
    pub async fn alert_detail(
        &self,
        viewer: &Viewer,
        alert_id: i64,
    ) -> Result<Option<(AlertRow, Vec<AlertEventRow>, Vec<NotificationRow>)>, StoreError> {
        // SQLite in WAL mode: a deferred transaction reads one snapshot from its first read.
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("begin").await?,
            Dialect::Postgres => self.pool.begin_with("begin isolation level repeatable read read only").await?,
        };
        let sql = format!("{} and a.alert_id = $2", scoped(viewer));
        let Some(alert) = sqlx::query_as::<_, AlertRow>(sqlx::AssertSqlSafe(sql))
            .bind(viewer.user_id)
            .bind(alert_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let events = sqlx::query_as(
            "select event_id, alert_id, at_ms, kind, user_id, note, detail from alert_events \
             where alert_id = $1 order by event_id",
        )
        .bind(alert_id)
        .fetch_all(&mut *tx)
        .await?;
        let notifications = sqlx::query_as(
            "select notification_id, alert_id, step, channel, user_id, webhook_id, created_ms, status, attempts \
             from notifications where alert_id = $1 order by notification_id",
        )
        .bind(alert_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some((alert, events, notifications)))
    }
}
