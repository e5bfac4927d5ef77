//! The audit log with where each request came from, written in batches, and read back in scope:
//! by administrators for their part of the organisation, by guardians for their resident.
//!
//! Append-only: nothing here updates or deletes, and triggers (migration 0003) refuse it anyway.

use serde::Serialize;

use crate::sql::Sql;
use crate::{Store, StoreError};

/// One thing someone did or read.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub resident_id: Option<i64>,
    pub detail: String,
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub audit_id: i64,
    pub at_ms: i64,
    pub user_id: Option<i64>,
    pub user_display_name: Option<String>,
    pub user_role: Option<String>,
    pub action: String,
    pub resident_id: Option<i64>,
    pub detail: String,
    pub client_ip: Option<String>,
}

/// Filters of an audit query; entries come newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user_id: Option<i64>,
    pub resident_id: Option<i64>,
    /// Actions starting with this (e.g. `auth.` or `vitals.`).
    pub action_prefix: Option<String>,
    /// Only entries older than this id (paging).
    pub before_id: Option<i64>,
    pub limit: i64,
}

const RECORD_COLUMNS: &str = "select a.audit_id, a.at_ms, a.user_id, u.display_name as user_display_name, \
     u.role as user_role, a.action, a.resident_id, a.detail, a.client_ip \
     from audit_log a left join users u on u.user_id = a.user_id where ";

/// Rows per INSERT (6 parameters each).
const ROWS_PER_STATEMENT: usize = 500;

fn push_filters(qb: &mut Sql, q: &AuditQuery) {
    if let Some(u) = q.user_id {
        qb.push(" and a.user_id = ").bind(u);
    }
    if let Some(r) = q.resident_id {
        qb.push(" and a.resident_id = ").bind(r);
    }
    if let Some(p) = &q.action_prefix {
        let p = qb.arg(p.clone());
        qb.push(format!(" and substr(a.action, 1, length({p})) = {p}"));
    }
    if let Some(b) = q.before_id {
        qb.push(" and a.audit_id < ").bind(b);
    }
    qb.push(" order by a.audit_id desc limit ").bind(q.limit.clamp(1, 1000));
}

impl Store {
    /// Appends entries in one transaction; when this returns `Ok` they are durable.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let mut qb =
                Sql::new("insert into audit_log (at_ms, user_id, action, resident_id, detail, client_ip) values ");
            for (i, e) in chunk.iter().enumerate() {
                qb.push(if i == 0 { "(" } else { ", (" });
                qb.bind(e.at_ms).push(", ").bind(e.user_id).push(", ").bind(e.action.clone()).push(", ");
                qb.bind(e.resident_id).push(", ").bind(e.detail.clone()).push(", ").bind(e.client_ip.clone());
                qb.push(")");
            }
            qb.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Entries about one resident (for their guardian, or an administrator in scope).
    pub async fn audit_of_resident(&self, resident_id: i64, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut qb = Sql::new(RECORD_COLUMNS);
        qb.push("a.resident_id = ").bind(resident_id);
        push_filters(&mut qb, q);
        Ok(qb.query_as().fetch_all(&self.pool).await?)
    }

    /// Entries an administrator may read: about residents in their scope; about accounts (no
    /// resident) of themselves, of staff scoped inside their scope, and of families following a
    /// resident in their scope; and, for an administrator of a whole tree (scoped to a root unit),
    /// about nobody in particular (failed logins of unknown names).
    pub async fn audit_for_admin(&self, admin_id: i64, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut qb = Sql::new(RECORD_COLUMNS);
        let admin = qb.arg(admin_id);
        let under_admin = |qb: &mut Sql, path: &str| {
            qb.push(format!(
                "exists (select 1 from staff_scopes s join org_units su on su.org_unit_id = s.org_unit_id \
                 where s.user_id = {admin} and substr({path}, 1, length(su.path)) = su.path)"
            ));
        };
        qb.push(
            "((a.resident_id is not null and exists (select 1 from residents r join households h \
                 on h.household_id = r.household_id join org_units g on g.org_unit_id = h.org_unit_id \
                 where r.resident_id = a.resident_id and ",
        );
        under_admin(&mut qb, "g.path");
        qb.push(format!(")) or (a.resident_id is null and (a.user_id = {admin}"));
        qb.push(
            " or exists (select 1 from staff_scopes s2 join org_units u2 on u2.org_unit_id = s2.org_unit_id \
                 where s2.user_id = a.user_id and ",
        );
        under_admin(&mut qb, "u2.path");
        qb.push(") or exists (select 1 from care_circle c join residents r on r.resident_id = c.resident_id \
                 join households h on h.household_id = r.household_id join org_units g on g.org_unit_id = h.org_unit_id \
                 where c.user_id = a.user_id and ");
        under_admin(&mut qb, "g.path");
        qb.push(
            ") or (a.user_id is null and exists (select 1 from staff_scopes s3 join org_units u3 \
                 on u3.org_unit_id = s3.org_unit_id where u3.parent_id is null and s3.user_id = ",
        );
        qb.push(&admin);
        qb.push(")))))");
        push_filters(&mut qb, q);
        Ok(qb.query_as().fetch_all(&self.pool).await?)
    }
}
