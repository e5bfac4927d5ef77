//! Stored records through the Record Access Control Point: a glucose meter that keeps its
//! measurements and hands them over only when asked, and a pulse oximeter that stores the spot
//! checks it takes while out of range and reports its whole memory each time it is asked. Each
//! record must reach the server once, across reconnects, a link drop in the middle of a
//! transfer, and a gateway restart (what was forwarded is persisted with the outbox).

use std::collections::BTreeMap;
use std::time::Duration;

use eldercare_gateway::ble::{BleConfig, BleStats};
use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig, FakeReport};
use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::racp::{Records, Request};
use eldercare_gateway::gatt::{Characteristic, glucose_sequence_number};
use eldercare_gateway::home::{self, BleGatewayConfig, GatewayHandle};
use eldercare_gateway::outbox::Outbox;
use eldercare_gateway::sim::Home;
use eldercare_gateway::uplink::UplinkConfig;
use eldercare_schema::Metric;

use crate::e2e_support::{World, get, login};
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
    start_gateway_for(w, home, "gw-chen", METER).await
}

async fn start_gateway_for(w: &World, home: &Home, gateway_id: &str, device_id: &str) -> GatewayHandle {
    home::start_ble(BleGatewayConfig {
        uplink: UplinkConfig::new(gateway_id, w.broker.clone()),
        outbox_dir: w.outbox_dir(gateway_id),
        outbox_capacity: 100_000,
        ble: BleConfig { settings: quick_settings(), devices: allowlist(home, &[device_id]) },
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

const OXIMETER: &str = "ox-zhao-01";

/// An oximeter holding 4 spot checks when the story starts. The first transfer is cut short by
/// a link drop after 2 records; at 7 s the link drops again. While out of range it stores the
/// spot checks it takes; connected, it sends them live. Every transfer reports its whole memory
/// (the Pulse Oximeter Service's RACP has no filter).
const OXIMETER_SCENARIO: &str = r#"
[[devices]]
device_id = "ox-zhao-01"
kind = "pulse_oximeter"
every_s = 1.1
stored_records = 4
racp_drop_after_records = 2
drop_link_at_s = 7
out_of_range_s = 2
"#;

/// The distinct spot checks the oximeter delivered (live or stored; a stored record sent in
/// several transfers counts once), and how many deliveries there were in all.
fn distinct_spot_checks(report: &FakeReport) -> (Vec<Vec<u8>>, usize) {
    let all: Vec<Vec<u8>> = report
        .delivered_by(OXIMETER)
        .filter(|d| d.characteristic == Characteristic::PlxSpotCheck && !d.read)
        .map(|d| d.bytes.clone())
        .collect();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    (distinct, all.len())
}

/// The measurement times of `metric` the spot checks carry, sorted.
fn times_of(spot_checks: &[Vec<u8>], metric: Metric) -> Vec<i64> {
    let mut times: Vec<i64> = spot_checks
        .iter()
        .flat_map(|b| {
            readings_from_packet(OXIMETER, Characteristic::PlxSpotCheck, b, eldercare_gateway::now_ms()).unwrap()
        })
        .filter(|r| r.metric == metric)
        .map(|r| r.time_ms)
        .collect();
    times.sort();
    times
}

/// The measurement times of the oximeter's readings of `metric` the server stored, sorted.
async fn stored_times(w: &World, resident_id: i64, metric: Metric) -> Vec<i64> {
    let rows = w.server().store.vitals_history(resident_id, metric, 0, i64::MAX, 100_000).await.unwrap();
    let mut times: Vec<i64> = rows.into_iter().filter(|r| r.device_id == OXIMETER).map(|r| r.measured_ms).collect();
    times.sort();
    times
}

/// Waits until everything the oximeter delivered is stored and its last transfer answered, and
/// the gateway has taken every answer the device sent since `gw` started (its exchanges from
/// `exchanges_before` on): the device's report says what it sent, not what the gateway has
/// handled yet. Returns the distinct spot checks.
async fn oximeter_settled(
    w: &World,
    fake: &FakeBluez,
    gw: &GatewayHandle,
    resident_id: i64,
    exchanges_before: usize,
) -> Vec<Vec<u8>> {
    let ble = gw.ble.clone().unwrap();
    wait_for("every spot check delivered to be stored", Duration::from_secs(60), || async {
        let r = fake.report();
        let (distinct, _) = distinct_spot_checks(&r);
        let exchanges = &r.device(OXIMETER).racp;
        let settled = exchanges.last().is_some_and(|x| !x.response.is_empty());
        let answered = exchanges[exchanges_before.min(exchanges.len())..].iter().filter(|x| !x.response.is_empty());
        let taken = ble.get(&ble.racp_completed) + ble.get(&ble.racp_failures) >= answered.count() as u64;
        let stored = stored_times(w, resident_id, Metric::Spo2).await.len();
        (settled && taken && gw.outbox.is_empty().unwrap() && stored >= times_of(&distinct, Metric::Spo2).len())
            .then_some(distinct)
    })
    .await
}

/// Each spot check is stored once: the server's SpO2 and pulse rate series of the oximeter are
/// exactly those of the distinct spot checks delivered. `outbox` is the stopped gateway's: what
/// is left there would be sent later, and must not be a spot check again.
async fn each_spot_check_stored_once(w: &World, resident_id: i64, distinct: &[Vec<u8>], outbox: &Outbox) {
    let left = outbox.peek(None, 10_000).unwrap();
    let again: Vec<_> = left.iter().filter(|r| matches!(r.metric, Metric::Spo2 | Metric::HeartRate)).collect();
    assert!(again.is_empty(), "spot checks forwarded after everything delivered was stored: {again:?}");
    for metric in [Metric::Spo2, Metric::HeartRate] {
        let stored = stored_times(w, resident_id, metric).await;
        let mut unique = stored.clone();
        unique.dedup();
        assert_eq!(stored.len(), unique.len(), "{metric:?} readings stored twice: {stored:?}");
        assert_eq!(stored, times_of(distinct, metric), "{metric:?}: each spot check stored once");
    }
}

#[test]
fn stored_oximeter_records_reach_the_server_once() {
    on_private_bus("records::stored_oximeter_records_reach_the_server_once", |bus| async move {
        let w = World::new().await;
        let admin = login(w.http(), "admin").await;
        let (status, device) = get(w.http(), &admin, &format!("/api/v1/devices/{OXIMETER}")).await;
        assert_eq!(status, 200, "{device}");
        let resident_id = device["resident_id"].as_i64().unwrap();
        let home = Home::from_toml(OXIMETER_SCENARIO).unwrap();
        let fake = FakeBluez::start(&bus, FakeBluezConfig::new(home.clone())).await.unwrap();

        // The transfer cut short, the reconnect, a link drop after a transfer, another reconnect.
        let gw = start_gateway_for(&w, &home, "gw-zhao", OXIMETER).await;
        wait_for("three transfers, one cut short", Duration::from_secs(60), || async {
            let r = fake.report();
            let d = r.device(OXIMETER);
            let answered = d.racp.iter().filter(|x| !x.response.is_empty()).count();
            (d.link_drops >= 2 && answered >= 2 && d.connects >= 3).then_some(())
        })
        .await;
        fake.pause();
        let distinct = oximeter_settled(&w, &fake, &gw, resident_id, 0).await;
        let report = fake.report();
        let d = report.device(OXIMETER);
        println!("first run: {d:?}");
        let (_, deliveries) = distinct_spot_checks(&report);
        assert!(d.racp[0].response.is_empty() && d.racp[0].records == 2, "the first transfer was cut short: {d:?}");
        assert!(d.racp.iter().all(|x| Request::decode(&x.request).unwrap()
            == Request::ReportStoredRecords { records: Records::All }));
        // Again in the second transfer: the 2 of the first; in the third: at least the 4 of the
        // start.
        assert!(
            deliveries >= distinct.len() + 2 + 4,
            "the device sent its records again in later transfers ({deliveries} deliveries, {} distinct)",
            distinct.len()
        );
        let ble = gw.ble.clone().unwrap();
        assert_eq!(racp_counts(&ble).2, 0, "{ble:?}");
        assert_eq!(ble.get(&ble.racp_records_skipped) as usize, deliveries - distinct.len(), "{ble:?}");
        let outbox = gw.outbox.clone();
        gw.stop().await.unwrap();
        each_spot_check_stored_once(&w, resident_id, &distinct, &outbox).await;
        drop(outbox);

        // A restart of the gateway: the device reports its memory again, and the gateway knows
        // from its outbox that every record in it was forwarded. (The device stays paused: it
        // takes no new measurements, so its memory is exactly what it held before.)
        let exchanges_before = fake.report().device(OXIMETER).racp.len();
        let gw = start_gateway_for(&w, &home, "gw-zhao", OXIMETER).await;
        wait_for("a transfer after the restart", Duration::from_secs(60), || async {
            let r = fake.report();
            let d = r.device(OXIMETER);
            (d.racp.len() > exchanges_before && d.racp.last().is_some_and(|x| !x.response.is_empty())).then_some(())
        })
        .await;
        let distinct = oximeter_settled(&w, &fake, &gw, resident_id, exchanges_before).await;
        let report = fake.report();
        let memory = report.device(OXIMETER).racp[exchanges_before].records;
        println!("after the restart: {:?}", report.device(OXIMETER));
        let ble = gw.ble.clone().unwrap();
        assert!(memory >= 5, "the 4 records of the start and those stored while out of range: {memory}");
        assert_eq!(ble.get(&ble.racp_records_skipped) as usize, memory, "all known from before the restart: {ble:?}");
        let outbox = gw.outbox.clone();
        gw.stop().await.unwrap();
        each_spot_check_stored_once(&w, resident_id, &distinct, &outbox).await;
        assert!(w.server().store.recent_dead_letters(10).await.unwrap().is_empty());
        fake.stop().await;
    });
}
