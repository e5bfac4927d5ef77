//! Registers the simulated homes on the server's database through the store crate, like the
//! demo seed: a district, a community, grids of up to 500 households, each household with its
//! gateway, residents and their four devices. Homes already registered are left alone, so a
//! second run with the same `--prefix` reuses them.

use std::sync::Arc;

use eldercare_store::Store;
use eldercare_store::org::OrgKind;
use futures::StreamExt;

use crate::home::{Home, gateway_id};

/// Households per grid.
const GRID_SIZE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] eldercare_store::StoreError),
    #[error(
        "gateway {gateway} is registered with {found} devices, not the {want} this run needs \
         (use another --prefix, or the same --residents-per-gateway as before)"
    )]
    Mismatch { gateway: String, found: usize, want: usize },
}

/// Makes sure homes `0..gateways` of `prefix` exist with `residents` residents each; returns
/// how many homes were created now.
pub async fn provision(
    store: &Store,
    prefix: &str,
    gateways: usize,
    residents: usize,
    on_progress: impl Fn(u64) + Send + Sync,
) -> Result<usize, ProvisionError> {
    let want = residents * crate::home::DeviceKind::ALL.len();
    let mut missing = Vec::new();
    for i in 0..gateways {
        let gw = gateway_id(prefix, i);
        let found = store.devices_of_gateway(&gw).await?.len();
        if found == 0 {
            missing.push(i);
        } else if found != want {
            return Err(ProvisionError::Mismatch { gateway: gw, found, want });
        } else {
            on_progress(1);
        }
    }
    if missing.is_empty() {
        return Ok(0);
    }
    let district = store.create_org_unit(None, OrgKind::District, &format!("Load test {prefix}")).await?;
    let community = store.create_org_unit(Some(district), OrgKind::Community, &format!("{prefix} community")).await?;
    let mut grids = Vec::new();
    for g in 0..missing.len().div_ceil(GRID_SIZE) {
        grids.push(store.create_org_unit(Some(community), OrgKind::Grid, &format!("{prefix} grid {g}")).await?);
    }
    let grids = Arc::new(grids);
    let on_progress = &on_progress;
    // A few homes at a time: each is a handful of small commits, and one for its devices.
    let results: Vec<Result<(), ProvisionError>> = futures::stream::iter(missing.iter().enumerate())
        .map(|(k, &i)| {
            let grids = grids.clone();
            async move {
                let gw = gateway_id(prefix, i);
                let household = store.create_household(grids[k / GRID_SIZE], &format!("Home {gw}")).await?;
                store.register_gateway(&gw, household).await?;
                let mut devices = Vec::new();
                for r in 0..residents {
                    let resident =
                        store.create_resident(household, &format!("Resident {r} of {gw}"), Some(1940)).await?;
                    devices.extend(Home::devices_of(&gw, r).map(|(d, kind)| (d, resident, kind)));
                }
                // The home's devices in one commit.
                let rows: Vec<(&str, &str, i64, &str)> = devices
                    .iter()
                    .map(|(d, resident, kind)| (d.as_str(), gw.as_str(), *resident, kind.registered_kind()))
                    .collect();
                store.register_devices(&rows).await?;
                on_progress(1);
                Ok(())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(missing.len())
}
