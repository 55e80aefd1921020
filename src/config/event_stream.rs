//! The `[event_stream]` settings: where the event log's records go. `file` (the default) is
//! the local JSON-lines log of `[event_log]`; `kafka` produces every record to a Kafka
//! topic and keeps `[event_log]`'s directory for the spill (records Kafka did not take).

use super::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `[event_stream]` section of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EventStreamConfig {
    /// `file`: the hourly JSON-lines files of `[event_log]`. `kafka`: a Kafka producer
    /// (acks=all, idempotent), spilling to `event_log.dir` whatever Kafka does not take.
    #[serde(default)]
    pub backend: StreamBackend,
    /// With `kafka`: the bootstrap brokers, `host:port` each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<String>,
    /// With `kafka`: the topic of auction records (and any other auction-scoped record).
    #[serde(default = "defaults::auctions_topic")]
    pub auctions_topic: String,
    /// With `kafka`: the topic of tracking-event records.
    #[serde(default = "defaults::events_topic")]
    pub events_topic: String,
    /// Records waiting in the producer (librdkafka's `queue.buffering.max.messages`); past
    /// this a record spills at once instead of waiting.
    #[serde(default = "defaults::queue_capacity")]
    pub queue_capacity: usize,
    /// How long the producer retries a record (librdkafka's `message.timeout.ms`) before it
    /// spills to the local file.
    #[serde(default = "defaults::delivery_timeout_ms")]
    pub delivery_timeout_ms: u64,
    /// A tracking event is answered only once its record is durable: acked by Kafka, or
    /// written to the spill file. Past this wait for the broker's ack, the record is written
    /// to the spill too (a consumer may then see it twice, with the same `record_id`).
    /// Below 1000: an event waits at most 1 s for its record.
    #[serde(default = "defaults::durable_wait_ms")]
    pub durable_wait_ms: u64,
    /// On SIGTERM, how long the producer may take to deliver what it holds; what it has not
    /// delivered then goes to the spill file.
    #[serde(default = "defaults::flush_timeout_ms")]
    pub flush_timeout_ms: u64,
    /// How often the spill is checked and, when the broker answers, replayed to Kafka.
    #[serde(default = "defaults::replay_interval_ms")]
    pub replay_interval_ms: u64,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, `compression.type`,
    /// `linger.ms`…). The ones bidgate sets itself are refused: the brokers, `acks`,
    /// idempotence and the queue and timeout settings above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// Where records go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamBackend {
    /// The local JSON-lines log (`[event_log]`).
    #[default]
    File,
    /// A Kafka producer; `event_log.dir` holds the spill.
    Kafka,
}

/// librdkafka properties bidgate sets from its own keys (and their aliases): an extra
/// property must not quietly undo acks=all or idempotence.
const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "queue.buffering.max.messages",
    "max.in.flight.requests.per.connection",
    "max.in.flight",
];

/// The semantic checks of `[event_stream]` (called from `check::validate`).
pub(super) fn check(c: &super::Config, p: &mut Vec<Problem>) {
    let s = &c.event_stream;
    if s.backend != StreamBackend::Kafka {
        return;
    }
    if s.brokers.is_empty() {
        p.push(Problem::new(
            "event_stream.brokers",
            "must name at least one broker (host:port) with backend = \"kafka\"",
        ));
    }
    for (i, b) in s.brokers.iter().enumerate() {
        let port = b
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) || b.contains(',') {
            p.push(Problem::new(
                format!("event_stream.brokers[{i}]"),
                format!("`{b}` is not host:port"),
            ));
        }
    }
    if c.event_log.dir.is_none() {
        p.push(Problem::new(
            "event_log.dir",
            "must be set with event_stream.backend = \"kafka\": it holds the spill (records Kafka did not take)",
        ));
    }
    for (key, topic) in [
        ("auctions_topic", &s.auctions_topic),
        ("events_topic", &s.events_topic),
    ] {
        if !is_topic(topic) {
            p.push(Problem::new(
                format!("event_stream.{key}"),
                "must be 1-249 characters of a-z, A-Z, 0-9, `.`, `_`, `-` (a Kafka topic name)",
            ));
        }
    }
    if s.queue_capacity == 0 || s.queue_capacity > 10_000_000 {
        p.push(Problem::new(
            "event_stream.queue_capacity",
            "must be between 1 and 10000000",
        ));
    }
    if s.delivery_timeout_ms < 100 {
        p.push(Problem::new(
            "event_stream.delivery_timeout_ms",
            "must be >= 100",
        ));
    }
    if s.durable_wait_ms >= 1000 {
        p.push(Problem::new(
            "event_stream.durable_wait_ms",
            "must be < 1000: an event waits at most 1 s for its record, and the spill needs some of it",
        ));
    }
    if s.replay_interval_ms == 0 {
        p.push(Problem::new(
            "event_stream.replay_interval_ms",
            "must be > 0",
        ));
    }
    for key in s.properties.keys() {
        if RESERVED.contains(&key.as_str()) {
            p.push(Problem::new(
                format!("event_stream.properties.{key}"),
                "is set by bidgate itself (brokers, acks=all, idempotence, queue and timeouts have their own keys)",
            ));
        }
    }
}

/// Kafka's own rule for topic names.
fn is_topic(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

mod defaults {
    pub fn auctions_topic() -> String {
        "bidgate.auctions".into()
    }
    pub fn events_topic() -> String {
        "bidgate.events".into()
    }
    pub fn queue_capacity() -> usize {
        100_000
    }
    pub fn delivery_timeout_ms() -> u64 {
        10_000
    }
    pub fn durable_wait_ms() -> u64 {
        300
    }
    pub fn flush_timeout_ms() -> u64 {
        5_000
    }
    pub fn replay_interval_ms() -> u64 {
        1_000
    }
}

impl Default for EventStreamConfig {
    fn default() -> Self {
        Self {
            backend: StreamBackend::default(),
            brokers: Vec::new(),
            auctions_topic: defaults::auctions_topic(),
            events_topic: defaults::events_topic(),
            queue_capacity: defaults::queue_capacity(),
            delivery_timeout_ms: defaults::delivery_timeout_ms(),
            durable_wait_ms: defaults::durable_wait_ms(),
            flush_timeout_ms: defaults::flush_timeout_ms(),
            replay_interval_ms: defaults::replay_interval_ms(),
            properties: BTreeMap::new(),
        }
    }
}
