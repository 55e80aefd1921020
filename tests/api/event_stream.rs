//! The Kafka event stream (`[event_stream] backend = "kafka"`) of a real gateway, against
//! librdkafka's in-process mock cluster (the Kafka protocol on loopback sockets): auctions
//! and events reach their topics keyed by auction id; with the broker down, events are
//! still answered (their records spill) and the spill is replayed once it is back; SIGTERM
//! loses nothing. Every record id is seen at least once; duplicates are counted and bounded.

use crate::helpers::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "event-stream-test-secret-0123456789ab";
const PARTITIONS: i32 = 3;

/// Long enough for a first record on a busy machine (metadata, a producer id), short
/// enough that a broker down spills soon.
/// librdkafka reconnects to a broker that was down with a backoff growing to 10 s by
/// default, which alone could use up a test's patience after `broker_up` (a CI run failed
/// waiting for the spill's replay): the tests cap it at 250 ms.
const DELIVERY: &str = "delivery_timeout_ms = 2000\n\
    properties = { \"reconnect.backoff.max.ms\" = \"250\" }";

type Mock = MockCluster<'static, DefaultProducerContext>;

struct Setup {
    mock: Mock,
    _partner: MockPartner,
    file: ConfigFile,
    dir: PathBuf,
}

/// A mock cluster with both topics, a bidding partner, and a config file streaming to it.
fn setup(name: &str, stream: &str) -> Setup {
    let mock = MockCluster::new(1).expect("mock cluster");
    for topic in ["bidgate.auctions", "bidgate.events"] {
        mock.create_topic(topic, PARTITIONS, 1).unwrap();
    }
    let partner = mock_partner(Reply::Json(json!({"id": "x", "cur": "USD", "seatbid": [
        {"bid": [{"id": "b1", "impid": "s", "price": 1.5, "adomain": ["brand.com"], "dur": 30,
                  "adm": "https://cdn.brand.com/spot.mp3"}]}]})));
    let file = ConfigFile::new(name, "");
    let dir = file.0.parent().unwrap().join("events");
    let cfg = config("", &[("stream-p", partner.endpoint(), 200)])
        + &format!(
            "\n[events]\nsecrets = [\"{SECRET}\"]\n\n[event_log]\ndir = \"{}\"\n\n\
             [event_stream]\nbackend = \"kafka\"\nbrokers = [\"{}\"]\n\
             replay_interval_ms = 100\n{stream}\n\n[[placements]]\nid = \"a\"\nformat = \"audio\"\n",
            dir.display(),
            mock.bootstrap_servers(),
        );
    file.write(&cfg);
    Setup {
        mock,
        _partner: partner,
        file,
        dir,
    }
}

/// Runs an ad request (one auction record) and returns its tracking URLs.
async fn tracking(app: &TestApp) -> Value {
    let out = app
        .ads_json(&ad_request(json!([{"id": "s", "placement": "a"}])))
        .await;
    out["slots"][0]["ads"][0]["tracking"].clone()
}

async fn stream_status(app: &TestApp) -> Value {
    app.admin_status().await["event_stream"].clone()
}

/// One consumed record: topic, key, value.
type Got = (String, Option<String>, Value);

/// Everything in both topics from the beginning: until `want` records came and then nothing
/// for a second (so duplicates show), or 30 s passed.
fn consume(bootstrap: &str, want: usize) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bidgate-stream-test")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for topic in ["bidgate.auctions", "bidgate.events"] {
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&tpl).unwrap();
    let (started, mut last) = (Instant::now(), Instant::now());
    let mut got = Vec::new();
    while started.elapsed() < Duration::from_secs(30)
        && (got.len() < want || last.elapsed() < Duration::from_secs(1))
    {
        if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
            let msg = msg.unwrap();
            last = Instant::now();
            let key = msg.key().map(|k| String::from_utf8_lossy(k).into_owned());
            let value = serde_json::from_slice(msg.payload().unwrap()).unwrap();
            got.push((msg.topic().to_string(), key, value));
        }
    }
    got
}

async fn consume_async(mock: &Mock, want: usize) -> Vec<Got> {
    let bootstrap = mock.bootstrap_servers();
    tokio::task::spawn_blocking(move || consume(&bootstrap, want))
        .await
        .unwrap()
}

/// Every record still in the spill.
fn spilled(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir.join("kafka-spill")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    out
}

/// Per record id, how many times it was seen.
fn counts<'a>(records: impl IntoIterator<Item = &'a Value>) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for r in records {
        let id = r["record_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no record_id: {r}"));
        *ids.entry(id.to_string()).or_default() += 1;
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auctions_and_events_reach_their_topics_keyed_by_auction_id() {
    let s = setup("stream-produce", DELIVERY);
    let app = spawn_app_from_file(&s.file).await;
    let t = tracking(&app).await;
    // The producer's first ack takes a few round trips; events then need no spill.
    eventually("the auction record acked", || async {
        (stream_status(&app).await["produced"] == 1).then_some(())
    })
    .await;
    for kind in ["impression", "start", "complete", "impression"] {
        assert_eq!(
            app.get(t[kind].as_str().unwrap()).await.status(),
            204,
            "{kind}"
        );
    }
    let forged =
        app.url("/v1/events/click?t=bm90LmEudG9rZW4.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(app.get(&forged).await.status(), 403);
    let status = eventually("six records acked", || async {
        let st = stream_status(&app).await;
        (st["produced"] == 6).then_some(st)
    })
    .await;
    assert_eq!(status["health"], "up", "{status}");
    assert_eq!(
        (status["spilled"].as_u64(), status["lost"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        app.metric("bidgate_event_stream_produced_total").await,
        Some(6.0)
    );
    let page = app
        .admin(reqwest::Method::GET, "/admin")
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("id=\"event-stream\""));

    let got = consume_async(&s.mock, 6).await;
    assert_eq!(got.len(), 6, "{got:#?}");
    let auction: Vec<_> = got.iter().filter(|g| g.0 == "bidgate.auctions").collect();
    assert_eq!(auction.len(), 1, "{got:#?}");
    let auction_id = auction[0].2["auction_id"].as_str().unwrap();
    assert_eq!(auction[0].1.as_deref(), Some(auction_id));
    assert_eq!(auction[0].2["wins"][0]["price_micros"], 1_500_000);
    let events: Vec<_> = got.iter().filter(|g| g.0 == "bidgate.events").collect();
    // The auction's events share its key, hence a partition: they keep their order.
    let keyed: Vec<_> = events.iter().filter(|g| g.1.is_some()).collect();
    let results: Vec<_> = keyed
        .iter()
        .map(|g| g.2["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["billed", "counted", "counted", "duplicate"]);
    for (_, key, value) in &keyed {
        assert_eq!(key.as_deref(), Some(auction_id), "{value}");
    }
    // A forged token names no auction: no key.
    let unkeyed: Vec<_> = events.iter().filter(|g| g.1.is_none()).collect();
    assert_eq!(unkeyed.len(), 1);
    assert_eq!(unkeyed[0].2["result"], "forged");
    assert_eq!(
        counts(got.iter().map(|g| &g.2)).len(),
        6,
        "unique record ids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_events_are_answered_from_the_spill_and_replayed_later() {
    let s = setup("stream-down", DELIVERY);
    let app = spawn_app_from_file(&s.file).await;
    let t = tracking(&app).await;
    eventually("the auction record acked", || async {
        (stream_status(&app).await["produced"] == 1).then_some(())
    })
    .await;
    s.mock.broker_down(1).unwrap();
    for kind in ["impression", "start", "complete"] {
        // Durable in the spill: answered, and billed.
        assert_eq!(
            app.get(t[kind].as_str().unwrap()).await.status(),
            204,
            "{kind}"
        );
    }
    let _second_auction = tracking(&app).await;
    assert_eq!(
        app.metric("bidgate_events_total{kind=\"impression\",result=\"billed\"}")
            .await,
        Some(1.0)
    );
    let down = eventually("the auction record spilled too", || async {
        let st = stream_status(&app).await;
        (st["spilled"].as_u64() >= Some(4) && st["spill_bytes"].as_u64() > Some(0)).then_some(st)
    })
    .await;
    assert_eq!(down["health"], "down", "{down}");
    assert!(spilled(&s.dir).len() >= 4);

    s.mock.broker_up(1).unwrap();
    let up = eventually("the spill replayed", || async {
        let st = stream_status(&app).await;
        (st["replayed"].as_u64() >= Some(4) && st["spill_bytes"] == 0).then_some(st)
    })
    .await;
    assert_eq!(
        (up["health"].as_str(), up["lost"].as_u64()),
        (Some("up"), Some(0)),
        "{up}"
    );
    assert!(spilled(&s.dir).is_empty());
    assert!(app.metric("bidgate_event_stream_replayed_total").await >= Some(4.0));

    let got = consume_async(&s.mock, 5).await;
    let ids = counts(got.iter().map(|g| &g.2));
    assert_eq!(ids.len(), 5, "every record at least once: {got:#?}");
    // Every copy in Kafka is one counted ack, and only replays make copies.
    let acks = up["produced"].as_u64().unwrap() + up["replayed"].as_u64().unwrap();
    assert_eq!(got.len() as u64, acks, "{up}");
    assert!((got.len() - ids.len()) as u64 <= up["replayed"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_the_producer_and_spills_what_the_broker_did_not_take() {
    // Records wait in the producer for a minute: only the stop can move them.
    let s = setup(
        "stream-term",
        "delivery_timeout_ms = 60000\nflush_timeout_ms = 500",
    );
    let (mut child, app) = serve_binary(&s.file);
    let t = tracking(&app).await;
    assert_eq!(
        app.get(t["impression"].as_str().unwrap()).await.status(),
        204
    );
    eventually("the first two records acked", || async {
        (stream_status(&app).await["produced"] == 2).then_some(())
    })
    .await;
    s.mock.broker_down(1).unwrap();
    let t2 = tracking(&app).await;
    for kind in ["impression", "complete"] {
        assert_eq!(
            app.get(t2[kind].as_str().unwrap()).await.status(),
            204,
            "{kind}"
        );
    }
    send_signal(&child, "TERM");
    assert!(child.wait().unwrap().success());

    // What Kafka has and what the spill holds: every record at least once.
    s.mock.broker_up(1).unwrap();
    let in_spill = spilled(&s.dir);
    let got = consume_async(&s.mock, 5 - in_spill.len().min(5)).await;
    let all: Vec<&Value> = got.iter().map(|g| &g.2).chain(&in_spill).collect();
    let ids = counts(all.iter().copied());
    assert_eq!(ids.len(), 5, "2 auctions + 3 events: {all:#?}");
    let kinds = |kind: &str| all.iter().filter(|r| r["kind"] == kind).count();
    assert!(
        kinds("impression") >= 2 && kinds("complete") >= 1,
        "{all:#?}"
    );
    // The second auction's record was in the producer at the stop: it is in the spill.
    assert!(
        in_spill.iter().any(|r| r["type"] == "auction"),
        "{in_spill:#?}"
    );
}

#[test]
fn a_kafka_stream_without_brokers_or_spill_dir_is_refused_with_key_paths() {
    let text = "[event_stream]\nbackend = \"kafka\"\nbrokers = [\"nohost\"]\nevents_topic = \"no spaces\"\n\
                durable_wait_ms = 1000\n[event_stream.properties]\nacks = \"1\"\n\"linger.ms\" = \"5\"\n";
    let problems = bidgate::config::from_toml_str(text, Vec::new()).expect_err("refused");
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for path in [
        "event_stream.brokers[0]",
        "event_log.dir",
        "event_stream.events_topic",
        "event_stream.durable_wait_ms",
        "event_stream.properties.acks",
    ] {
        assert!(paths.contains(&path), "{path} not in {problems:?}");
    }
    assert_eq!(paths.len(), 5, "linger.ms is allowed: {problems:?}");
    // The file backend (the default) asks for none of it.
    assert!(
        bidgate::config::from_toml_str("[event_stream]\nbrokers = [\"x\"]\n", Vec::new()).is_ok()
    );
}
