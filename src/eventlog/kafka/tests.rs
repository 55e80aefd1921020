//! The Kafka backend against librdkafka's in-process mock cluster (real Kafka protocol on
//! loopback sockets): records and keys, a broker down (spill, then replay), stopping.

use super::super::tests::TempDir;
use crate::config::{EventLogConfig, EventStreamConfig, StreamBackend};
use crate::eventlog::EventLog;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;
const AUCTIONS: &str = "t.auctions";
const EVENTS: &str = "t.events";

pub(crate) type Mock = MockCluster<'static, DefaultProducerContext>;

/// A mock cluster of `brokers` brokers with both topics created.
pub(crate) fn cluster(brokers: i32) -> Mock {
    let mock = MockCluster::new(brokers).expect("mock cluster");
    for topic in [AUCTIONS, EVENTS] {
        mock.create_topic(topic, PARTITIONS, 1).expect("topic");
    }
    mock
}

fn stream_config(mock: &Mock) -> EventStreamConfig {
    EventStreamConfig {
        backend: StreamBackend::Kafka,
        brokers: mock
            .bootstrap_servers()
            .split(',')
            .map(String::from)
            .collect(),
        auctions_topic: AUCTIONS.into(),
        events_topic: EVENTS.into(),
        // Long enough for a first record on a busy machine (metadata, a producer id).
        delivery_timeout_ms: 2_000,
        durable_wait_ms: 300,
        flush_timeout_ms: 3_000,
        replay_interval_ms: 100,
        ..EventStreamConfig::default()
    }
}

fn open(dir: &TempDir, cfg: &EventStreamConfig) -> EventLog {
    let log = EventLogConfig {
        dir: Some(dir.path().to_path_buf()),
        ..EventLogConfig::default()
    };
    EventLog::open(&log, cfg).unwrap().expect("a log")
}

/// Appends one auction record and waits for its ack: the producer's first record takes a few
/// round trips (metadata, a producer id), longer than a durable append waits on a busy box.
async fn warm_up(log: &EventLog) {
    assert!(log.append(&auction(1000)));
    wait_for("the first ack", || {
        log.stream_status().unwrap().produced >= 1
    })
    .await;
}

fn auction(n: usize) -> Value {
    json!({"type": "auction", "ts_ms": 1, "auction_id": format!("a{}", n % 7), "n": n})
}

fn event(n: usize) -> Value {
    json!({"type": "event", "kind": "impression", "auction_id": format!("a{}", n % 7), "n": n})
}

/// One consumed message.
#[derive(Debug)]
pub(crate) struct Got {
    pub topic: String,
    pub key: Option<String>,
    pub value: Value,
}

/// Everything in `topics`, read from the beginning until `want` messages came and then
/// nothing more for a second (so duplicates are seen too), or 30 s passed.
pub(crate) fn consume(bootstrap: &str, topics: &[&str], want: usize) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bidgate-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        if got.len() >= want && quiet_since.elapsed() > Duration::from_secs(1) {
            break;
        }
        let Some(msg) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let msg = msg.expect("consumed");
        quiet_since = Instant::now();
        got.push(Got {
            topic: msg.topic().to_string(),
            key: msg.key().map(|k| String::from_utf8(k.to_vec()).unwrap()),
            value: serde_json::from_slice(msg.payload().unwrap()).unwrap(),
        });
    }
    got
}

/// Per record id, how often it was consumed.
pub(crate) fn by_id(got: &[Got]) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for g in got {
        let id = g.value["record_id"]
            .as_str()
            .expect("record_id")
            .to_string();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spill_lines(dir: &TempDir) -> usize {
    let spill = dir.path().join(super::SPILL_DIR);
    super::spill::segments(&spill)
        .unwrap()
        .iter()
        .map(|(_, p)| std::fs::read_to_string(p).unwrap().lines().count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_their_topic_keyed_by_auction_with_a_unique_record_id() {
    let mock = cluster(1);
    let dir = TempDir::new("kafka-produce");
    let log = open(&dir, &stream_config(&mock));
    warm_up(&log).await;
    for n in 0..40 {
        assert!(log.append(&auction(n)));
        assert!(log.append_durable(&event(n)).await, "event {n} durable");
    }
    log.close().await;
    let status = log.stream_status().unwrap();
    assert_eq!((status.produced, status.spilled, status.lost), (81, 0, 0));

    let bootstrap = mock.bootstrap_servers();
    let got = tokio::task::spawn_blocking(move || consume(&bootstrap, &[AUCTIONS, EVENTS], 81))
        .await
        .unwrap();
    assert_eq!(got.len(), 81, "exactly once when nothing failed");
    for g in &got {
        let kind = g.value["type"].as_str().unwrap();
        assert_eq!(g.topic, if kind == "event" { EVENTS } else { AUCTIONS });
        assert_eq!(g.key.as_deref(), g.value["auction_id"].as_str(), "{g:?}");
    }
    assert_eq!(by_id(&got).len(), 81, "ids are unique");
    // Per key, the records keep the order they were appended in.
    for topic in [AUCTIONS, EVENTS] {
        let mut last: HashMap<String, u64> = HashMap::new();
        for g in got.iter().filter(|g| g.topic == topic) {
            // The sequence part of the record id is the order of the appends.
            let id = g.value["record_id"].as_str().unwrap();
            let n: u64 = id.rsplit_once('-').unwrap().1.parse().unwrap();
            let prev = last.insert(g.key.clone().unwrap(), n);
            assert!(prev.is_none_or(|p| p < n), "{topic}: {prev:?} then {n}");
        }
    }
    assert!(spill_lines(&dir) == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_down_spills_and_the_spill_is_replayed_when_it_is_back() {
    let mock = cluster(1);
    let dir = TempDir::new("kafka-down");
    let log = open(&dir, &stream_config(&mock));
    // Up first, so the producer knows its partitions; then the only broker goes away.
    warm_up(&log).await;
    mock.broker_down(1).unwrap();
    const N: usize = 50;
    for n in 1..N {
        assert!(log.append(&auction(n)));
    }
    // An event still gets its durable answer (from the spill).
    assert!(log.append_durable(&event(N)).await);
    wait_for("every record spilled", || {
        log.stream_status().unwrap().spilled >= N as u64
    })
    .await;
    assert!(spill_lines(&dir) >= N);
    let down = log.stream_status().unwrap();
    assert_eq!(down.health, super::Health::Down);
    // The auctions failed delivery; the event was spilled ahead of its own failure.
    assert!(
        down.failures >= N as u64 - 1 && down.spill_bytes > 0,
        "{down:?}"
    );

    mock.broker_up(1).unwrap();
    wait_for("the spill replayed", || {
        let s = log.stream_status().unwrap();
        s.replayed >= N as u64 && spill_lines(&dir) == 0
    })
    .await;
    log.close().await;
    let s = log.stream_status().unwrap();
    assert_eq!(s.lost, 0, "{s:?}");

    let bootstrap = mock.bootstrap_servers();
    let got = tokio::task::spawn_blocking(move || consume(&bootstrap, &[AUCTIONS, EVENTS], N + 1))
        .await
        .unwrap();
    let ids = by_id(&got);
    assert_eq!(ids.len(), N + 1, "every record at least once: {got:?}");
    // At least once, and every copy accounted for: each one in Kafka is one ack counted
    // (first tries + replays), and only replays make copies.
    assert_eq!(got.len() as u64, s.produced + s.replayed, "{s:?}");
    let duplicates = (got.len() - ids.len()) as u64;
    assert!(duplicates <= s.replayed, "{duplicates} duplicates: {s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_costs_an_event_its_durable_wait_not_its_answer() {
    let mock = cluster(1);
    let dir = TempDir::new("kafka-silent");
    let mut cfg = stream_config(&mock);
    // The producer would hold the record for a minute: only the spill can answer it.
    cfg.delivery_timeout_ms = 60_000;
    let log = open(&dir, &cfg);
    warm_up(&log).await;
    mock.broker_down(1).unwrap();
    assert!(log.append_durable(&event(1)).await);
    let s = log.stream_status().unwrap();
    assert_eq!((s.produced, s.spilled, s.lost), (1, 1, 0), "{s:?}");
    assert_eq!(spill_lines(&dir), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_with_the_broker_down_spills_what_it_holds_and_the_next_start_replays_it() {
    let mock = cluster(1);
    let dir = TempDir::new("kafka-close");
    let mut cfg = stream_config(&mock);
    // Records wait in the producer far longer than the stop allows.
    cfg.delivery_timeout_ms = 60_000;
    cfg.flush_timeout_ms = 300;
    let log = open(&dir, &cfg);
    warm_up(&log).await;
    mock.broker_down(1).unwrap();
    const N: usize = 30;
    for n in 1..=N {
        assert!(log.append(&auction(n)));
    }
    log.close().await;
    let s = log.stream_status().unwrap();
    assert_eq!((s.spilled, s.lost), (N as u64, 0), "{s:?}");
    assert_eq!(spill_lines(&dir), N);
    assert!(!log.append(&auction(0)), "closed");

    // The next process finds the spill and gives it to Kafka.
    mock.broker_up(1).unwrap();
    let next = open(&dir, &stream_config(&mock));
    wait_for("the previous run's spill replayed", || {
        spill_lines(&dir) == 0
    })
    .await;
    next.close().await;
    let bootstrap = mock.bootstrap_servers();
    let got = tokio::task::spawn_blocking(move || consume(&bootstrap, &[AUCTIONS, EVENTS], N + 1))
        .await
        .unwrap();
    assert_eq!(by_id(&got).len(), N + 1, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_a_slow_broker_to_ack_everything() {
    let mock = cluster(1);
    mock.broker_round_trip_time(1, Duration::from_millis(100))
        .unwrap();
    let dir = TempDir::new("kafka-slow");
    let mut cfg = stream_config(&mock);
    cfg.delivery_timeout_ms = 10_000;
    let log = open(&dir, &cfg);
    for n in 0..100 {
        assert!(log.append(&auction(n)));
    }
    log.close().await;
    let s = log.stream_status().unwrap();
    assert_eq!((s.produced, s.spilled, s.lost), (100, 0, 0), "{s:?}");
}
