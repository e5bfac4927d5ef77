//! Ten minutes without the server, twenty devices: nothing lost, nothing stored twice.
//!
//! A simulated home (the built-in simulator at 120× speed: ten minutes of story in five
//! seconds) keeps producing while the broker has no server behind it, so every batch the uplink
//! publishes is lost in transit and only the gateway's outbox keeps the readings. Then the
//! server comes up; production goes on for another minute of story and stops; the backlog
//! drains. Every reading produced is stored exactly once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eldercare_gateway::outbox::Outbox;
use eldercare_gateway::sim::{self, DeviceKind, Scenario, SimDevice, SimulatorConfig, Story};
use eldercare_gateway::uplink::{self, DeviceBoard, UplinkConfig, UplinkStats};
use eldercare_schema::Metric;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::e2e_support::{PASSWORD, World, login, resident_id};
use crate::support::wait_for;

const DEVICES: usize = 20;
const SPEED: f64 = 120.0;
const OUTAGE_S: f64 = 600.0;

fn scenario() -> Scenario {
    let kinds =
        [DeviceKind::HeartRateBand, DeviceKind::PulseOximeter, DeviceKind::Thermometer, DeviceKind::BloodPressureCuff];
    let mut devices: Vec<SimDevice> = (0..DEVICES - 2)
        .map(|i| SimDevice {
            device_id: format!("out-{i:02}"),
            kind: kinds[i % kinds.len()],
            every_s: Some(5.0),
            story: Story::Healthy,
        })
        .collect();
    // Two pendants mark story time: the outage ends with the first one's fall, production
    // with the second one's help call.
    devices.push(SimDevice {
        device_id: "out-fall".into(),
        kind: DeviceKind::FallPendant,
        every_s: None,
        story: Story::Fall { at_s: OUTAGE_S, cancelled: false },
    });
    devices.push(SimDevice {
        device_id: "out-help".into(),
        kind: DeviceKind::FallPendant,
        every_s: None,
        story: Story::HelpButton { at_s: OUTAGE_S + 60.0 },
    });
    Scenario { devices }
}

/// Waits until the outbox holds a reading of `metric` (scanning forward from `cursor`).
async fn wait_for_metric(outbox: &Outbox, metric: Metric, cursor: &mut Option<u64>) {
    wait_for(&format!("a {metric} reading in the outbox"), Duration::from_secs(120), || {
        let found = loop {
            let page = outbox.peek(*cursor, 1000).unwrap();
            let Some(last) = page.last() else { break false };
            *cursor = Some(last.seq);
            if page.iter().any(|r| r.metric == metric) {
                break true;
            }
        };
        async move { found.then_some(()) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_minute_outage_with_twenty_devices_loses_and_duplicates_nothing() {
    let mut w = World::without_server().await;
    let outbox = Arc::new(Outbox::open(&w.outbox_dir("gw-wang"), 1_000_000).unwrap());
    let wake = Arc::new(Notify::new());
    let board = DeviceBoard::default();
    let stats = Arc::new(UplinkStats::default());
    let mut up_cfg = UplinkConfig::new("gw-wang", w.broker.clone());
    up_cfg.resend_after = Duration::from_secs(2);
    let (stop_sim, stop_uplink) = (CancellationToken::new(), CancellationToken::new());
    let mut sim_cfg = SimulatorConfig::new(scenario());
    sim_cfg.speed = SPEED;
    sim_cfg.tick = Duration::from_millis(50);
    let producer = tokio::spawn(sim::run(sim_cfg, outbox.clone(), wake.clone(), board.clone(), stop_sim.clone()));
    let link = tokio::spawn(uplink::run(up_cfg, outbox.clone(), wake, board, stats.clone(), stop_uplink.clone()));

    // The outage: ten minutes of story with nobody to acknowledge.
    let mut cursor = None;
    wait_for_metric(&outbox, Metric::Fall, &mut cursor).await;
    let backlog = outbox.len().unwrap();
    assert_eq!(stats.readings_acked.load(Ordering::Relaxed), 0, "nothing acknowledged during the outage");
    assert!(stats.batches_sent.load(Ordering::Relaxed) > 0, "the uplink kept trying");
    // 18 devices measuring every 5 to 6 s (the simulator's tick at this speed) for 10 minutes,
    // 45 readings a round: thousands of readings.
    assert!(backlog > 3000, "backlog {backlog}");

    // The server comes back (with the twenty devices registered to this gateway).
    w.start_server().await;
    let store = w.server().store.clone();
    eldercare_server::demo::seed(&store, PASSWORD).await.unwrap();
    let admin = login(w.http(), "admin").await;
    let wang = resident_id(w.http(), &admin, "Wang Jianguo").await.unwrap();
    for d in scenario().devices {
        store.register_device(&d.device_id, "gw-wang", wang, d.kind.as_str()).await.unwrap();
    }

    // Another minute of story while the backlog drains, then production stops.
    wait_for_metric(&outbox, Metric::HelpButton, &mut cursor).await;
    stop_sim.cancel();
    let produced = producer.await.unwrap().unwrap();
    assert_eq!(produced.undecodable, 0);

    let stored = wait_for("the backlog to drain", Duration::from_secs(120), || async {
        let stored = store.count_readings().await.unwrap() as u64;
        (outbox.is_empty().unwrap() && stored >= produced.readings).then_some(stored)
    })
    .await;
    assert_eq!(stored, produced.readings, "every reading produced is stored exactly once");
    // (The retained status the gateway published during the outage reached the server before
    // the gateway was registered: that one is refused, and it is not a reading.)
    let refused = store.recent_dead_letters(100).await.unwrap();
    assert!(
        refused.iter().all(|(_, _, device, seq)| device.is_none() && seq.is_none()),
        "no reading refused: {refused:?}"
    );
    assert_eq!(outbox.evicted().unwrap(), 0);
    assert!(stats.resends.load(Ordering::Relaxed) > 0, "what was lost in transit was sent again");
    println!(
        "outage backlog {backlog} readings; produced {} in all; stored {stored}; {} batches sent",
        produced.readings,
        stats.batches_sent.load(Ordering::Relaxed)
    );
    stop_uplink.cancel();
    link.await.unwrap().unwrap();
}
