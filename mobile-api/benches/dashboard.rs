//! The caregiver's two heaviest calls, over real HTTP on loopback against SQLite on disk and
//! PostgreSQL, at a fixed request rate (open loop: latency counts from when a request was due, so a slow answer
//! cannot hide the queue behind it), each against a baseline measured in the same run: the
//! store's own queries for the same data, called directly at the same rate.
//!
//! 1. Dashboard: `GET /api/v1/vitals/latest?limit=200`, the newest vitals of the 200 residents
//!    in the caregiver's grid (1,000 residents in the database), with one audit entry each.
//! 2. 30-day history: `GET /api/v1/residents/{id}/vitals?metric=heart_rate&from=..&to=..` of a
//!    resident with a heart rate every 5 minutes; 30 days come back as hourly rollups (720).
//!
//! Backends: `--backend sqlite|postgres|both` (default both, one after the other). SQLite is a
//! file in a temp dir (`BENCH_DIR` to choose where); PostgreSQL is a fresh database
//! `eldercare_bench_<n>` made on the server at `--pg-url` (default `ELDERCARE_TEST_PG_URL`, else
//! `postgres://postgres@127.0.0.1:5432/postgres`; the user must be allowed to create databases)
//! and dropped at the end.
//!
//! Run: `cargo bench -p eldercare-mobile-api --bench dashboard [-- --rate 20 --seconds 20]
//! [--backend postgres] [--pg-url postgres://...]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eldercare_mobile_api::{ApiState, AuthConfig, JwtSecret, app, password};
use eldercare_schema::Metric;
use eldercare_store::org::OrgKind;
use eldercare_store::{NewReading, Role, Store, Viewer};

const PASSWORD: &str = "bench password long enough";
const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;
const RESIDENTS: usize = 1000;
const IN_SCOPE: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Args {
    rate: f64,
    seconds: f64,
    backends: Vec<Backend>,
    pg_url: String,
}

fn args() -> Args {
    let mut a = Args {
        rate: 20.0,
        seconds: 20.0,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        pg_url: std::env::var("ELDERCARE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = || argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--rate" => a.rate = value().parse().expect("--rate <requests per second>"),
            "--seconds" => a.seconds = value().parse().expect("--seconds <duration>"),
            "--backend" => {
                a.backends = match value().as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    other => panic!("--backend sqlite|postgres|both, not {other:?}"),
                }
            }
            "--pg-url" => a.pg_url = value(),
            // `cargo bench` passes --bench; anything else is not ours either.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[derive(Default)]
struct Stats {
    /// Milliseconds, sorted once finished.
    latencies: Vec<f64>,
    seconds: f64,
    errors: usize,
}

impl Stats {
    fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies, q)
    }

    fn achieved(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }
}

/// Calls `op` at `rate` per second for `seconds`, each call in its own task, timing from the
/// moment it was due (milliseconds), into `stats`.
async fn at_rate<F, Fut>(rate: f64, seconds: f64, op: &Arc<F>, stats: &mut Stats)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let n = (rate * seconds).round() as usize;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let ok = op().await;
            (due.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    for t in tasks {
        let (ms, ok) = t.await.unwrap();
        stats.latencies.push(ms);
        stats.errors += usize::from(!ok);
    }
    stats.seconds += start.elapsed().as_secs_f64();
}

/// Measures `api` and `baseline` alternately, a warm-up and then `ROUNDS` slices of the
/// duration each, so that whatever else the machine does falls on both alike.
async fn compare<A, AF, B, BF>(args: &Args, api: A, baseline: B) -> (Stats, Stats)
where
    A: Fn() -> AF + Send + Sync + 'static,
    AF: std::future::Future<Output = bool> + Send + 'static,
    B: Fn() -> BF + Send + Sync + 'static,
    BF: std::future::Future<Output = bool> + Send + 'static,
{
    const ROUNDS: usize = 5;
    let (api, baseline) = (Arc::new(api), Arc::new(baseline));
    let (mut a, mut b) = (Stats::default(), Stats::default());
    at_rate(args.rate, 2.0, &baseline, &mut Stats::default()).await;
    at_rate(args.rate, 2.0, &api, &mut Stats::default()).await;
    for _ in 0..ROUNDS {
        at_rate(args.rate, args.seconds / ROUNDS as f64, &baseline, &mut b).await;
        at_rate(args.rate, args.seconds / ROUNDS as f64, &api, &mut a).await;
    }
    a.latencies.sort_by(f64::total_cmp);
    b.latencies.sort_by(f64::total_cmp);
    (a, b)
}

struct World {
    store: Store,
    caregiver: i64,
    /// The resident with 30 days of heart rate every 5 minutes.
    busy: i64,
    now_ms: i64,
}

async fn seed(store: &Store) -> World {
    let now_ms = eldercare_store::now_ms();
    let district = store.create_org_unit(None, OrgKind::District, "District").await.unwrap();
    let community = store.create_org_unit(Some(district), OrgKind::Community, "Community").await.unwrap();
    let mut grids = Vec::new();
    for g in 0..RESIDENTS / IN_SCOPE {
        grids.push(store.create_org_unit(Some(community), OrgKind::Grid, &format!("Grid {g}")).await.unwrap());
    }
    let hash = password::hash_password(PASSWORD).unwrap();
    let caregiver = store.create_user("caregiver", &hash, Role::Caregiver, "Nurse").await.unwrap();
    store.grant_scope(caregiver, grids[0]).await.unwrap();

    let mut residents = Vec::new();
    for i in 0..RESIDENTS {
        let household = store.create_household(grids[i / IN_SCOPE], &format!("Household {i}")).await.unwrap();
        let resident = store.create_resident(household, &format!("Resident {i}"), Some(1940)).await.unwrap();
        let gateway = format!("gw-{i}");
        store.register_gateway(&gateway, household).await.unwrap();
        store.register_device(&format!("ox-{i}"), &gateway, resident, "pulse_oximeter").await.unwrap();
        store.register_device(&format!("bp-{i}"), &gateway, resident, "blood_pressure_cuff").await.unwrap();
        residents.push((resident, gateway));
    }
    // Every resident: the newest of six metrics; the caregiver's 200 also 30 days of heart rate
    // every 15 minutes (576,000 rows), so the history query runs against a realistic table.
    let reading = |device: String, seq: i64, resident: i64, metric: Metric, value: f64, at: i64| NewReading {
        device_id: device,
        seq,
        resident_id: resident,
        metric,
        value,
        measured_ms: at,
        time_source: "device",
    };
    for (i, (resident, gateway)) in residents.iter().enumerate() {
        let (ox, bp) = (format!("ox-{i}"), format!("bp-{i}"));
        let mut batch = vec![
            reading(ox.clone(), 1, *resident, Metric::Spo2, 96.0, now_ms - 5 * MINUTE),
            reading(ox.clone(), 2, *resident, Metric::Battery, 80.0, now_ms - 5 * MINUTE),
            reading(bp.clone(), 1, *resident, Metric::BpSystolic, 130.0, now_ms - 60 * MINUTE),
            reading(bp.clone(), 2, *resident, Metric::BpDiastolic, 80.0, now_ms - 60 * MINUTE),
            reading(bp.clone(), 3, *resident, Metric::HeartRate, 70.0, now_ms - 60 * MINUTE),
            reading(ox.clone(), 3, *resident, Metric::BodyTemperature, 36.6, now_ms - 90 * MINUTE),
        ];
        if i < IN_SCOPE {
            let every = if i == 0 { 5 * MINUTE } else { 15 * MINUTE };
            let n = 30 * DAY / every;
            batch.extend((0..n).map(|k| {
                let value = 60.0 + (k % 30) as f64;
                reading(ox.clone(), 10 + k, *resident, Metric::HeartRate, value, now_ms - 30 * DAY + k * every)
            }));
        }
        for chunk in batch.chunks(5000) {
            store.ingest(gateway, chunk, &[], now_ms).await.unwrap();
        }
    }
    // What the server's rollup follower does once a minute.
    store.roll_up(now_ms).await.unwrap();
    World { store: store.clone(), caregiver, busy: residents[0].0, now_ms }
}

fn report(name: &str, api: &Stats, base: &Stats) {
    println!("{name}");
    for (who, s) in [("API     ", api), ("baseline", base)] {
        println!(
            "  {who}  p50 {:8.2} ms   p99 {:8.2} ms   max {:8.2} ms   {} requests at {:.1} req/s   errors {}",
            s.p(0.5),
            s.p(0.99),
            s.p(1.0),
            s.latencies.len(),
            s.achieved(),
            s.errors
        );
    }
    println!("  ratio API/baseline: p50 {:.1}x, p99 {:.1}x", api.p(0.5) / base.p(0.5), api.p(0.99) / base.p(0.99));
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        for backend in args.backends.clone() {
            match backend {
                Backend::Sqlite => {
                    // On the real disk, not tmpfs: the store syncs each commit, and every API read
                    // commits its audit entries.
                    let dir = tempfile::tempdir_in(
                        std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
                    )
                    .unwrap();
                    let store =
                        Store::open(&format!("sqlite:{}", dir.path().join("bench.db").display())).await.unwrap();
                    run(&args, store, "SQLite (WAL, synchronous=FULL) on disk".to_owned()).await;
                }
                Backend::Postgres => {
                    let db = PgDatabase::create(&args.pg_url).await;
                    let store = Store::open(&db.url).await.unwrap();
                    let version = store.setting("server_version").await.unwrap();
                    run(&args, store.clone(), format!("PostgreSQL {version}, a fresh database {}", db.name)).await;
                    store.close().await;
                    db.drop().await;
                }
            }
        }
    });
}

/// A database of the bench's own on a PostgreSQL server, made at start and dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(admin_url: &str) -> PgDatabase {
        sqlx::any::install_default_drivers();
        let name = format!("eldercare_bench_{}_{}", std::process::id(), eldercare_store::now_ms());
        let pool = sqlx::AnyPool::connect(admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin_url} is unreachable ({e}); give --pg-url or ELDERCARE_TEST_PG_URL")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("creating the database {name}: {e}"));
        pool.close().await;
        // The same server and credentials, the new database.
        let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let server = match base[scheme_end..].find('/') {
            Some(i) => &base[..scheme_end + i],
            None => base,
        };
        let url = match query {
            Some(q) => format!("{server}/{name}?{q}"),
            None => format!("{server}/{name}"),
        };
        PgDatabase { admin_url: admin_url.to_owned(), name, url }
    }

    async fn drop(self) {
        let pool = sqlx::AnyPool::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {} with (force)", self.name)))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

async fn run(args: &Args, store: Store, backend: String) {
    let t = Instant::now();
    let w = seed(&store).await;
    eprintln!("seeded {} readings in {:.1} s", w.store.count_readings().await.unwrap(), t.elapsed().as_secs_f64());

    let auth = AuthConfig::new(JwtSecret::generate());
    let state = ApiState::new(store.clone(), auth).with_rate_limit(None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "caregiver", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    let dashboard_url = format!("http://{addr}/api/v1/vitals/latest?limit=200");
    let from = eldercare_time(w.now_ms - 30 * DAY);
    let to = eldercare_time(w.now_ms);
    let history_url = format!("http://{addr}/api/v1/residents/{}/vitals?metric=heart_rate&from={from}&to={to}", w.busy);
    // Warm up and check the answers once.
    let d: serde_json::Value =
        client.get(&dashboard_url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(d.as_array().unwrap().len(), IN_SCOPE);
    assert_eq!(d[0]["vitals"].as_array().unwrap().len(), 6);
    let h: serde_json::Value = client.get(&history_url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["resolution"], "hour");
    let buckets = h["buckets"].as_array().unwrap().len();
    assert!((720..=721).contains(&buckets), "{buckets}");

    println!(
        "eldercare API benchmark: {backend}; {RESIDENTS} residents, {} readings; \
         open loop at {} req/s for {} s each; {} cores",
        w.store.count_readings().await.unwrap(),
        args.rate,
        args.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let get = |url: String| {
        let (client, token) = (client.clone(), token.clone());
        move || {
            let (client, token, url) = (client.clone(), token.clone(), url.clone());
            async move {
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        }
    };
    let viewer = Viewer { user_id: w.caregiver, role: Role::Caregiver };
    let s = w.store.clone();
    let dashboard_baseline = move || {
        let s = s.clone();
        async move {
            let ids = s.visible_resident_ids(&viewer, None).await.unwrap();
            s.latest_vitals_of(&ids[..IN_SCOPE]).await.is_ok()
        }
    };
    let (s, busy, now) = (w.store.clone(), w.busy, w.now_ms);
    let history_baseline = move || {
        let s = s.clone();
        async move { s.vitals_rollup(busy, Metric::HeartRate, now - 30 * DAY, now, 60 * MINUTE).await.is_ok() }
    };

    let (api, base) = compare(args, get(dashboard_url), dashboard_baseline).await;
    report("dashboard: latest vitals of 200 residents (baseline: the store's two queries)", &api, &base);
    let (api, base) = compare(args, get(history_url), history_baseline).await;
    report("30-day heart-rate history as hourly rollups (baseline: the store's rollup query)", &api, &base);
    println!(
        "The API's extra cost is HTTP, the JWT and session check, JSON, and the audit entries it commits \
         (one per resident shown) before it answers."
    );
    server.abort();
}

fn eldercare_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap().replace('+', "%2B")
}
