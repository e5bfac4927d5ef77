//! Who may do what, checked in one place. Reading goes through the store's scoped queries
//! (staff: their subtrees; families: their care circle). Changing things is for staff in scope;
//! a few care-circle actions are also open to the resident's guardian. Whatever a caller may not
//! see or touch answers 404, exactly like what does not exist.

use eldercare_store::admin::HouseholdRow;
use eldercare_store::{ResidentRow, Role};

use crate::{ApiError, ApiState, AuthUser};

pub(crate) fn is_staff(user: &AuthUser) -> bool {
    matches!(user.role, Role::Admin | Role::Caregiver)
}

/// The resident if the caller may see it; otherwise 404, whether it exists or not. A refused
/// attempt is audited.
pub(crate) async fn visible_resident(
    state: &ApiState,
    user: &AuthUser,
    resident_id: i64,
) -> Result<ResidentRow, ApiError> {
    match state.store.visible_resident(&user.viewer(), resident_id).await? {
        Some(row) => Ok(row),
        None => {
            state.audit(Some(user.user_id), "resident.not_visible", Some(resident_id), "").await?;
            Err(resident_not_found(resident_id))
        }
    }
}

pub(crate) fn resident_not_found(resident_id: i64) -> ApiError {
    ApiError::NotFound(format!("resident {resident_id} not found"))
}

/// The resident if the caller is staff with the resident in scope.
pub(crate) async fn managed_resident(
    state: &ApiState,
    user: &AuthUser,
    resident_id: i64,
) -> Result<ResidentRow, ApiError> {
    if !is_staff(user) {
        state.audit(Some(user.user_id), "resident.not_managed", Some(resident_id), "").await?;
        return Err(resident_not_found(resident_id));
    }
    visible_resident(state, user, resident_id).await
}

/// The resident if the caller is staff with the resident in scope or one of the resident's
/// guardians.
pub(crate) async fn resident_for_guardian_or_staff(
    state: &ApiState,
    user: &AuthUser,
    resident_id: i64,
) -> Result<ResidentRow, ApiError> {
    let row = visible_resident(state, user, resident_id).await?;
    if is_staff(user) || state.store.is_guardian(user.user_id, resident_id).await? {
        return Ok(row);
    }
    state.audit(Some(user.user_id), "resident.not_guardian", Some(resident_id), "").await?;
    Err(resident_not_found(resident_id))
}

/// The household if the caller is staff with it in scope.
pub(crate) async fn managed_household(
    state: &ApiState,
    user: &AuthUser,
    household_id: i64,
) -> Result<HouseholdRow, ApiError> {
    let found = if is_staff(user) { state.store.visible_household(&user.viewer(), household_id).await? } else { None };
    found.ok_or_else(|| ApiError::NotFound(format!("household {household_id} not found")))
}
