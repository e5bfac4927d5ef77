//! Statistics of a part of the organisation for administrators: residents monitored, devices and
//! gateways online, alerts by level and how fast they were acknowledged.

use crate::sql::Sql;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubtreeStats {
    pub residents: i64,
    /// Residents wearing at least one registered device.
    pub residents_monitored: i64,
    pub devices: i64,
    /// Devices with a reading at or after the `online_since_ms` asked for.
    pub devices_online: i64,
    pub gateways: i64,
    /// Gateways whose last published status is `online`.
    pub gateways_online: i64,
    /// Alerts opened in the window, by level.
    pub alerts_by_level: Vec<(String, i64)>,
    /// Alerts not resolved now.
    pub alerts_open: i64,
    /// For the alerts opened in the window that were acknowledged: milliseconds from opening to
    /// acknowledgement, ascending.
    pub ack_delays_ms: Vec<i64>,
}

/// Pushes `(prefix match of g.path against any of paths)`.
fn push_under(qb: &mut Sql, paths: &[String]) {
    qb.push("(");
    for (i, p) in paths.iter().enumerate() {
        if i > 0 {
            qb.push(" or ");
        }
        let p = qb.arg(p.clone());
        qb.push(format!("substr(g.path, 1, length({p})) = {p}"));
    }
    qb.push(")");
}

impl Store {
    /// Statistics of everything under the organisation units whose paths are `paths` (the caller
    /// has checked they are in scope). Alerts count when opened in `[from_ms, to_ms)`.
    pub async fn subtree_stats(
        &self,
        paths: &[String],
        online_since_ms: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<SubtreeStats, StoreError> {
        if paths.is_empty() {
            return Ok(SubtreeStats::default());
        }
        let mut s = SubtreeStats::default();

        let mut qb = Sql::new(
            "select count(*), count(case when exists (select 1 from devices d where d.resident_id = r.resident_id) \
             then 1 end) from residents r join households h on h.household_id = r.household_id \
             join org_units g on g.org_unit_id = h.org_unit_id where ",
        );
        push_under(&mut qb, paths);
        (s.residents, s.residents_monitored) = qb.query_as().fetch_one(&self.pool).await?;

        let mut qb = Sql::new("select count(*), count(case when d.last_reading_ms >= ");
        qb.bind(online_since_ms);
        qb.push(
            " then 1 end) from devices d join residents r on r.resident_id = d.resident_id \
             join households h on h.household_id = r.household_id join org_units g on g.org_unit_id = h.org_unit_id \
             where ",
        );
        push_under(&mut qb, paths);
        (s.devices, s.devices_online) = qb.query_as().fetch_one(&self.pool).await?;

        let mut qb = Sql::new(
            "select count(*), count(case when gw.status = 'online' then 1 end) from gateways gw \
             join households h on h.household_id = gw.household_id join org_units g on g.org_unit_id = h.org_unit_id \
             where ",
        );
        push_under(&mut qb, paths);
        (s.gateways, s.gateways_online) = qb.query_as().fetch_one(&self.pool).await?;

        let alerts = "from alerts a join households h on h.household_id = a.household_id \
             join org_units g on g.org_unit_id = h.org_unit_id where ";
        let mut qb = Sql::new(format!("select a.level, count(*) {alerts}"));
        push_under(&mut qb, paths);
        qb.push(" and a.opened_ms >= ").bind(from_ms).push(" and a.opened_ms < ").bind(to_ms);
        qb.push(" group by a.level order by a.level");
        s.alerts_by_level = qb.query_as().fetch_all(&self.pool).await?;

        let mut qb = Sql::new(format!("select count(*) {alerts}"));
        push_under(&mut qb, paths);
        qb.push(" and a.status <> 'resolved'");
        s.alerts_open = qb.query_scalar().fetch_one(&self.pool).await?;

        let mut qb = Sql::new(format!("select a.acknowledged_ms - a.opened_ms {alerts}"));
        push_under(&mut qb, paths);
        qb.push(" and a.acknowledged_ms is not null and a.opened_ms >= ").bind(from_ms);
        qb.push(" and a.opened_ms < ").bind(to_ms).push(" order by 1");
        s.ack_delays_ms = qb.query_scalar().fetch_all(&self.pool).await?;
        Ok(s)
    }

    /// The paths of the organisation units a staff member is scoped to.
    pub async fn staff_scope_paths(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "select u.path from staff_scopes s join org_units u on u.org_unit_id = s.org_unit_id \
             where s.user_id = $1 order by u.path",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
