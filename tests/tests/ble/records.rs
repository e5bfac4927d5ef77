//! Stored records through the Record Access Control Point: a glucose meter that keeps its
//! measurements and hands them over only when asked. Each record must reach the server once,
//! across reconnects (the gateway asks for the records after the newest it forwarded) and
//! across a gateway restart (that position is persisted with the outbox).

use std::collections::BTreeMap;
use std::time::Duration;

use eldercare_gateway::ble::{BleConfig, BleStats};
use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig, FakeReport};
use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::racp::{Records, Request};
use eldercare_gateway::gatt::{Characteristic, glucose_sequence_number};
use eldercare_gateway::home::{self, BleGatewayConfig, GatewayHandle};
use eldercare_gateway::sim::Home;
use eldercare_gateway::uplink::UplinkConfig;

use crate::e2e_support::World;
use crate::support::{allowlist, on_private_bus, quick_settings, wait_for};

const METER: &str = "gl-chen-01";

/// A meter holding 4 records when the story starts, measuring again every 1.5 s: each new
/// record makes it advertise, and the gateway (on-demand) connects, asks, and lets go.
const SCENARIO: &str = r#"
[[devices]]
device_id = "gl-chen-01"
kind = "glucose_meter"
every_s = 1.5
stored_records = 4
"#;

async fn start_gateway(w: &World, home: &Home) -> GatewayHandle {
    home::start_ble(BleGatewayConfig {
        uplink: UplinkConfig::new("gw-chen", w.broker.clone()),
        outbox_dir: w.outbox_dir("gw-chen"),
        outbox_capacity: 100_000,
        ble: BleConfig { settings: quick_settings(), devices: allowlist(home, &[METER]) },
    })
    .await
    .unwrap()
}

/// The sequence numbers of the glucose records the meter sent, in order.
fn sent_records(report: &FakeReport) -> Vec<u16> {
    report
        .delivered_by(METER)
        .filter(|d| d.characteristic == Characteristic::GlucoseMeasurement && !d.read)
        .map(|d| glucose_sequence_number(&d.bytes).expect("the meter sends valid records"))
        .collect()
}

/// Checks every request the meter received against what it had sent before: the first ever
/// asks for all records, every later one for those after the newest already sent.
fn check_requests(report: &FakeReport) {
    let exchanges = &report.device(METER).racp;
    let mut sent_before: Option<u16> = None;
    for (i, x) in exchanges.iter().enumerate() {
        let request = Request::decode(&x.request).unwrap();
        let expected = match sent_before {
            None => Records::All,
            Some(n) => Records::AtLeast { sequence_number: n + 1 },
        };
        assert_eq!(request, Request::ReportStoredRecords { records: expected }, "request {i} of {exchanges:?}");
        let answer_code = x.response[3];
        assert_eq!(answer_code, if x.records > 0 { 0x01 } else { 0x06 }, "answer {i}: {x:?}");
        // The records of this exchange follow those of the earlier ones.
        let all = sent_records(report);
        let upto: usize = exchanges[..=i].iter().map(|e| e.records).sum();
        sent_before = all[..upto].iter().copied().max().or(sent_before);
    }
}

/// The readings the gateway's decoders make of everything the meter delivered (its records and
/// the battery level read on each connection).
fn expected_readings(report: &FakeReport) -> usize {
    report
        .delivered_by(METER)
        .filter_map(|d| readings_from_packet(METER, d.characteristic, &d.bytes, eldercare_gateway::now_ms()).ok())
        .map(|r| r.len())
        .sum()
}

async fn stored(w: &World) -> usize {
    w.server().store.count_readings().await.unwrap() as usize
}

async fn all_stored(w: &World, fake: &FakeBluez, gw: &GatewayHandle) -> Vec<u16> {
    wait_for("every record sent to be stored", Duration::from_secs(60), || async {
        let r = fake.report();
        let sent = sent_records(&r);
        let stored = stored(w).await;
        let settled = r.device(METER).racp.last().is_some_and(|x| !x.response.is_empty());
        (settled && gw.outbox.is_empty().unwrap() && stored >= expected_readings(&r)).then_some(sent)
    })
    .await
}

fn no_record_twice(sent: &[u16]) {
    let mut seen = BTreeMap::new();
    for s in sent {
        *seen.entry(*s).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "records sent more than once: {twice:?} in {sent:?}");
}

fn racp_counts(ble: &BleStats) -> (u64, u64, u64) {
    (ble.get(&ble.racp_requests), ble.get(&ble.racp_completed), ble.get(&ble.racp_failures))
}

#[test]
fn stored_glucose_records_reach_the_server_once() {
    on_private_bus("records::stored_glucose_records_reach_the_server_once", |bus| async move {
        let w = World::new().await;
        let home = Home::from_toml(SCENARIO).unwrap();
        let fake = FakeBluez::start(&bus, FakeBluezConfig::new(home.clone())).await.unwrap();

        // First gateway run: the 4 stored records, then new ones over several reconnects.
        let gw = start_gateway(&w, &home).await;
        let ble = gw.ble.clone().unwrap();
        wait_for("three visits to the meter", Duration::from_secs(60), || async {
            let r = fake.report();
            (r.device(METER).racp.len() >= 3 && r.device(METER).connects >= 3).then_some(())
        })
        .await;
        fake.pause();
        let sent = all_stored(&w, &fake, &gw).await;
        let report = fake.report();
        println!("first run: sent {sent:?}; {:?}", report.device(METER));
        assert!(sent.len() >= 5, "the 4 stored records and at least one new one: {sent:?}");
        assert_eq!(&sent[..4], &[2, 3, 4, 5], "the memory at the start, oldest first");
        no_record_twice(&sent);
        check_requests(&report);
        assert_eq!(stored(&w).await, expected_readings(&report), "each record stored once");
        let (requests, completed, failures) = racp_counts(&ble);
        assert_eq!(failures, 0, "{ble:?}");
        assert_eq!(completed, requests);
        assert_eq!(requests as usize, report.device(METER).racp.len());
        gw.stop().await.unwrap();

        // A restart of the gateway: the position comes back from the outbox, so the meter is
        // asked only for what it took since.
        let exchanges_before = fake.report().device(METER).racp.len();
        fake.resume();
        let gw = start_gateway(&w, &home).await;
        wait_for("two more visits", Duration::from_secs(60), || async {
            let r = fake.report();
            (r.device(METER).racp.len() >= exchanges_before + 2).then_some(())
        })
        .await;
        fake.pause();
        let sent = all_stored(&w, &fake, &gw).await;
        let report = fake.report();
        println!("after the restart: sent {sent:?}");
        let first_after = Request::decode(&report.device(METER).racp[exchanges_before].request).unwrap();
        assert!(
            matches!(first_after, Request::ReportStoredRecords { records: Records::AtLeast { .. } }),
            "after a restart the gateway does not ask for everything: {first_after:?}"
        );
        no_record_twice(&sent);
        check_requests(&report);
        assert_eq!(stored(&w).await, expected_readings(&report), "each record stored once, also after the restart");
        assert!(w.server().store.recent_dead_letters(10).await.unwrap().is_empty());
        let ble = gw.ble.clone().unwrap();
        assert_eq!(racp_counts(&ble).2, 0, "{ble:?}");
        gw.stop().await.unwrap();
        fake.stop().await;
    });
}
