//! `eldercare-server demo`: the whole system in one process on embedded defaults. A small
//! community (a district, a community, two grids, three households, four residents), the demo
//! accounts, and one simulated home gateway per household whose wearables send real GATT bytes
//! through the gateway's decoders, outbox and MQTT uplink. Some residents' readings go wrong in
//! the first minutes: a falling SpO2, a fever, a fall that is not cancelled.

use std::path::Path;

use anyhow::Context;
use eldercare_gateway::home::{self, GatewayHandle, SimulatedGatewayConfig};
use eldercare_gateway::sim::{DeviceKind, Scenario, SimDevice, SimulatorConfig, Story};
use eldercare_gateway::uplink::UplinkConfig;
use eldercare_store::org::OrgKind;
use eldercare_store::{Role, Store};

use crate::config::DemoArgs;
use crate::{Mqtt, ServerConfig, app, start};

/// The demo accounts, their role, and the resident a family account follows.
pub const ACCOUNTS: [(&str, Role, &str); 4] = [
    ("admin", Role::Admin, "Administrator"),
    ("caregiver", Role::Caregiver, "Community nurse"),
    ("family1", Role::Family, "Wang Xiaoming"),
    ("family2", Role::Family, "Chen Jing"),
];

struct DemoResident {
    name: &'static str,
    birth_year: i64,
    devices: Vec<SimDevice>,
}

struct DemoHousehold {
    gateway_id: &'static str,
    name: &'static str,
    grid: usize,
    residents: Vec<DemoResident>,
}

fn dev(device_id: &str, kind: DeviceKind, story: Story) -> SimDevice {
    SimDevice { device_id: device_id.to_owned(), kind, every_s: None, story }
}

/// The community. Story times are seconds of demo time after start.
fn community() -> Vec<DemoHousehold> {
    use DeviceKind::*;
    vec![
        DemoHousehold {
            gateway_id: "gw-wang",
            name: "Wang household, 3 Maple Lane",
            grid: 0,
            residents: vec![
                DemoResident {
                    name: "Wang Jianguo",
                    birth_year: 1941,
                    devices: vec![
                        dev(
                            "ox-wang-01",
                            PulseOximeter,
                            Story::Spo2Decline { start_s: 60.0, per_min: 1.5, floor: 84.0 },
                        ),
                        dev("hr-wang-01", HeartRateBand, Story::Healthy),
                        dev("bp-wang-01", BloodPressureCuff, Story::Healthy),
                    ],
                },
                DemoResident {
                    name: "Li Xiuying",
                    birth_year: 1944,
                    devices: vec![
                        dev("th-li-01", Thermometer, Story::Fever { start_s: 90.0, per_min: 0.5, peak_c: 38.7 }),
                        dev("sc-li-01", Scale, Story::Healthy),
                    ],
                },
            ],
        },
        DemoHousehold {
            gateway_id: "gw-chen",
            name: "Chen household, 12 Birch Road",
            grid: 1,
            residents: vec![DemoResident {
                name: "Chen Mei",
                birth_year: 1938,
                devices: vec![
                    dev("fp-chen-01", FallPendant, Story::Fall { at_s: 150.0, cancelled: false }),
                    dev("hr-chen-01", HeartRateBand, Story::Healthy),
                    dev("gl-chen-01", GlucoseMeter, Story::Healthy),
                ],
            }],
        },
        DemoHousehold {
            gateway_id: "gw-zhao",
            name: "Zhao household, 7 Maple Lane",
            grid: 0,
            residents: vec![DemoResident {
                name: "Zhao Lei",
                birth_year: 1946,
                devices: vec![
                    dev("hr-zhao-01", HeartRateBand, Story::Healthy),
                    dev("ox-zhao-01", PulseOximeter, Story::Healthy),
                    dev("fp-zhao-01", FallPendant, Story::Fall { at_s: 200.0, cancelled: true }),
                ],
            }],
        },
    ]
}

async fn hash(password: &str) -> anyhow::Result<String> {
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || eldercare_mobile_api::password::hash_password(&p))
        .await?
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))
}

/// Creates the demo community in an empty database; on an existing one, only resets the demo
/// accounts' password.
pub async fn seed(store: &Store, password: &str) -> anyhow::Result<()> {
    let password_hash = hash(password).await?;
    if store.has_users().await? {
        for (username, _, _) in ACCOUNTS {
            store.set_password_hash(username, &password_hash).await?;
        }
        return Ok(());
    }
    let district = store.create_org_unit(None, OrgKind::District, "Riverside District").await?;
    let community_id = store.create_org_unit(Some(district), OrgKind::Community, "Maple Community").await?;
    let grids = [
        store.create_org_unit(Some(community_id), OrgKind::Grid, "Grid 1 (Maple Lane)").await?,
        store.create_org_unit(Some(community_id), OrgKind::Grid, "Grid 2 (Birch Road)").await?,
    ];
    let mut users = Vec::new();
    for (username, role, display) in ACCOUNTS {
        users.push(store.create_user(username, &password_hash, role, display).await?);
    }
    store.grant_scope(users[0], district).await?;
    store.grant_scope(users[1], community_id).await?;
    let mut residents = Vec::new();
    for h in community() {
        let household = store.create_household(grids[h.grid], h.name).await?;
        store.register_gateway(h.gateway_id, household).await?;
        for r in &h.residents {
            let resident = store.create_resident(household, r.name, Some(r.birth_year)).await?;
            residents.push(resident);
            for d in &r.devices {
                store.register_device(&d.device_id, h.gateway_id, resident, d.kind.as_str()).await?;
            }
        }
    }
    // family1 follows Wang Jianguo, family2 follows Chen Mei.
    store.add_to_care_circle(users[2], residents[0], "son").await?;
    // family1 is also Wang Jianguo's guardian: may read his audit trail and consent for him.
    store.set_guardian(users[2], residents[0], true).await?;
    store.add_to_care_circle(users[3], residents[2], "daughter").await?;
    Ok(())
}

/// The signing key, kept in the data folder so tokens survive a demo restart.
fn jwt_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_owned());
        }
    }
    let secret = app::random_secret();
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(secret)
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes: [u8; 12] = rand::random();
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let db = data_dir.join("eldercare.db");
    let server = start(ServerConfig {
        database_url: format!("sqlite:{}", db.display()),
        http_addr: args.http_addr,
        mqtt: Mqtt::Embedded(args.mqtt_addr),
        jwt_secret: jwt_secret(&data_dir)?,
        instance: "demo".into(),
        clock: None,
        utc_offset_minutes: 8 * 60,
        trusted_proxies: Vec::new(),
        security: Default::default(),
        shared_group: None,
        raw_retention_days: 0,
        rollup_every: crate::rollups::EVERY,
        ingest_workers: 4,
    })
    .await?;
    let (password, generated) = match args.demo_password {
        Some(p) if !p.is_empty() => (p, false),
        Some(_) => anyhow::bail!("--demo-password must not be empty"),
        None => (random_password(), true),
    };
    seed(&server.store, &password).await?;

    let mut gateways: Vec<GatewayHandle> = Vec::new();
    for h in community() {
        let scenario = Scenario { devices: h.residents.iter().flat_map(|r| r.devices.clone()).collect() };
        let mut simulator = SimulatorConfig::new(scenario);
        simulator.speed = args.speed;
        gateways.push(home::start_simulated(SimulatedGatewayConfig {
            uplink: UplinkConfig::new(h.gateway_id, server.mqtt_url.clone()),
            outbox_dir: data_dir.join("gateways").join(h.gateway_id),
            outbox_capacity: eldercare_gateway::outbox::DEFAULT_CAPACITY,
            simulator,
        })?);
    }

    let base = format!("http://{}", server.http_addr);
    println!("eldercare demo is running");
    println!("  console    {base}/console/   (sign in as caregiver to see alerts arrive)");
    println!("  HTTP API   {base}/api/v1   (OpenAPI: {base}/api/openapi.json)");
    println!("  health     {base}/healthz  {base}/readyz  {base}/metrics");
    println!("  MQTT       {}", server.mqtt_url);
    println!("  data       {}", data_dir.display());
    println!("  accounts   admin, caregiver, family1, family2");
    println!(
        "  password   {password}{}",
        if generated { "   (generated; pass --demo-password to choose)" } else { "" }
    );
    println!("  residents  3 households, 4 residents; SpO2 falls from 1 min, a fever from 1.5 min, a fall at 2.5 min");
    println!("Try:");
    println!(
        "  TOKEN=$(curl -s -X POST {base}/api/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"username\":\"family1\",\"password\":\"{password}\"}}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!("  curl -s {base}/api/v1/residents -H \"authorization: Bearer $TOKEN\"");
    println!("Press Ctrl-C to stop.");

    app::shutdown_signal().await;
    println!("stopping...");
    for g in gateways {
        if let Err(e) = g.stop().await {
            tracing::warn!(error = %e, "a simulated gateway did not stop cleanly");
        }
    }
    server.shutdown().await;
    Ok(())
}
