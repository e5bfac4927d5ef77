//! Display names of the people named in alerts (who acknowledged, resolved, was notified), as far
//! as the caller may know them: staff names to anyone who sees the alert; family members' names
//! to staff, to themselves, and to the members of a care circle they share. Another family's
//! names never reach a family.

use crate::{Role, Store, StoreError, Viewer};

impl Store {
    /// `user_id`'s display name if `viewer` may know it (`None` otherwise, or no such user).
    pub async fn display_name_for(&self, viewer: &Viewer, user_id: i64) -> Result<Option<String>, StoreError> {
        let name = match viewer.role {
            Role::Admin | Role::Caregiver => {
                sqlx::query_scalar("select display_name from users where user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Role::Family => {
                sqlx::query_scalar(
                    "select u.display_name from users u where u.user_id = $1 and (u.role <> 'family' \
                     or u.user_id = $2 or exists (select 1 from care_circle a join care_circle b \
                     on b.resident_id = a.resident_id where a.user_id = u.user_id and b.user_id = $2))",
                )
                .bind(user_id)
                .bind(viewer.user_id)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        Ok(name)
    }
}
