//! The Kafka backend of the event log (`event_stream.backend = "kafka"`): every record is
//! produced to Kafka (acks=all, idempotent producer), keyed by its auction id so that a
//! key's records keep their order, and stamped with a `record_id` (this process's random id
//! and a sequence number) so that consumers can drop the duplicates at-least-once delivery
//! allows.
//!
//! The request path never waits for Kafka: `append` hands the record to librdkafka's queue
//! (non-blocking) or, when that is full, to the spill. What Kafka does not ack within
//! `delivery_timeout_ms` spills (`spill.rs`), and the replayer (`replay.rs`) gives the spill
//! back to Kafka once the broker answers again.
//!
//! **Durable**, for a tracking event that waits for its record: acked by the broker (acks=all:
//! every in-sync replica has it), or written and fsynced to the spill. An event whose ack
//! has not come within `durable_wait_ms` is spilled too, then answered by whichever of the
//! two comes first: a consumer may see that record twice, with the same `record_id`.

mod replay;
mod spill;
mod stats;
#[cfg(test)]
mod tests;

pub use stats::{Health, StreamStatus};

use crate::config::EventStreamConfig;
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, PurgeConfig, ThreadedProducer};
use stats::{Failure, Stats};
use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The spill's directory under `event_log.dir`.
pub const SPILL_DIR: &str = "kafka-spill";

pub(super) struct Stream {
    sender: Sender,
    shared: Arc<Shared>,
    cfg: EventStreamConfig,
    /// This process's part of every record id: random, so replicas and restarts never collide.
    replica: String,
    seq: AtomicU64,
    closed: AtomicBool,
    /// Held while closing, so that concurrent `close` calls all return once it is done.
    closing: tokio::sync::Mutex<bool>,
    replayer: Mutex<Option<replay::Handle>>,
}

/// What the delivery callback needs: where failed records go, and the counters.
struct Shared {
    spill: spill::Spill,
    stats: Arc<Stats>,
}

impl Shared {
    /// Spills a value; a spill that cannot take it loses it (counted).
    fn spill(&self, value: Vec<u8>, ack: Option<oneshot::Sender<bool>>) -> bool {
        let spilled = self.spill.push(value, ack);
        if !spilled {
            self.stats.lost(1);
        }
        spilled
    }
}

/// The producer and the routing: a record's type picks its topic, its auction id its key.
#[derive(Clone)]
struct Sender {
    producer: ThreadedProducer<Context>,
    auctions_topic: Arc<str>,
    events_topic: Arc<str>,
}

impl Sender {
    /// Hands a value to the producer without blocking. On a refusal, the delivery comes
    /// back with why (the caller counts it and spills or retries).
    fn send(&self, value: &[u8], delivery: Box<Delivery>) -> Result<(), Refused> {
        let head: Option<Head> = serde_json::from_slice(value).ok();
        let topic = match head.as_ref().and_then(|h| h.kind.as_deref()) {
            Some("event") => &self.events_topic,
            _ => &self.auctions_topic,
        };
        let key = head.as_ref().and_then(|h| h.auction_id.as_deref());
        let mut record = BaseRecord::<str, [u8], _>::with_opaque_to(topic, delivery).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.producer.send(record).map_err(|(error, _)| Refused {
            why: match error {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => Failure::QueueFull,
                _ => Failure::Produce,
            },
            error,
        })
    }
}

/// A record the producer did not take.
struct Refused {
    why: Failure,
    error: KafkaError,
}

/// Who waits for a record's delivery report.
enum Delivery {
    /// Nobody: a failure spills it.
    Live,
    /// A durable append: the first of the ack and the spill answers it.
    Durable(Arc<Durable>),
    /// A spilled record replayed: the replayer counts it; a failure leaves it in the spill.
    Replay(Arc<replay::Batch>),
}

struct Durable {
    /// Taken by whoever answers: the broker's ack, or the spill (failure or timeout).
    ack: Mutex<Option<oneshot::Sender<bool>>>,
}

impl Durable {
    fn take(&self) -> Option<oneshot::Sender<bool>> {
        self.ack.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

struct Context {
    shared: Arc<Shared>,
}

/// librdkafka's own log and client errors, into bidgate's log (target `librdkafka`).
impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        use RDKafkaLogLevel::*;
        match level {
            Emerg | Alert | Critical => tracing::error!(target: "librdkafka", fac, "{message}"),
            Error | Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            Notice | Info => tracing::info!(target: "librdkafka", fac, "{message}"),
            Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = Box<Delivery>;

    /// Runs on the producer's polling thread: never blocks (the spill's queue is `try_send`).
    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        let s = &self.shared;
        match (result, *delivery) {
            (Ok(_), Delivery::Live) => s.stats.produced(),
            (Ok(_), Delivery::Durable(d)) => {
                s.stats.produced();
                if let Some(ack) = d.take() {
                    let _ = ack.send(true);
                }
            }
            (Ok(_), Delivery::Replay(batch)) => {
                s.stats.replayed();
                batch.done(true);
            }
            (Err((e, msg)), Delivery::Live) => {
                s.stats.failed(Failure::Delivery, e);
                s.spill(msg.payload().unwrap_or_default().to_vec(), None);
            }
            (Err((e, msg)), Delivery::Durable(d)) => {
                s.stats.failed(Failure::Delivery, e);
                // Already spilled (the wait ran out) when there is nobody left to answer.
                if let Some(ack) = d.take() {
                    s.spill(msg.payload().unwrap_or_default().to_vec(), Some(ack));
                }
            }
            (Err((e, _)), Delivery::Replay(batch)) => {
                s.stats.failed(Failure::Replay, e);
                batch.done(false);
            }
        }
    }
}

/// The fields of a record that route it: its type picks the topic, its auction id is the key.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    auction_id: Option<Cow<'a, str>>,
}

impl Stream {
    /// Starts the producer, the spill writer (`{log_dir}/kafka-spill`) and the replayer.
    pub(super) fn start(
        log_dir: &Path,
        spill_capacity: usize,
        cfg: &EventStreamConfig,
    ) -> std::io::Result<Stream> {
        let stats = Arc::new(Stats::new());
        let spill = spill::Spill::start(log_dir.join(SPILL_DIR), spill_capacity, stats.clone())?;
        let shared = Arc::new(Shared { spill, stats });
        let producer: ThreadedProducer<Context> = client_config(cfg)
            .create_with_context(Context {
                shared: shared.clone(),
            })
            .map_err(|e| std::io::Error::other(format!("event_stream: {e}")))?;
        let stream = Stream {
            sender: Sender {
                producer,
                auctions_topic: cfg.auctions_topic.as_str().into(),
                events_topic: cfg.events_topic.as_str().into(),
            },
            shared,
            cfg: cfg.clone(),
            replica: format!("{:016x}", fastrand::u64(..)),
            seq: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            closing: tokio::sync::Mutex::new(false),
            replayer: Mutex::new(None),
        };
        let handle = replay::start(&stream)?;
        *stream.replayer.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(stream)
    }

    /// Queues a record (one JSON object, no newline) without blocking: to Kafka, or, when
    /// the producer refuses it, to the spill. `false` when it is lost (closed, or the spill
    /// refused it too).
    pub(super) fn append(&self, line: Vec<u8>) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let value = self.stamp(line);
        match self.sender.send(&value, Box::new(Delivery::Live)) {
            Ok(()) => true,
            Err(refused) => {
                self.shared.stats.failed(refused.why, &refused.error);
                self.shared.spill(value, None)
            }
        }
    }

    /// Queues a record like `append`; the future resolves once it is durable (`true`: acked
    /// by Kafka or written to the spill) or lost (`false`).
    pub(super) fn append_durable(
        &self,
        line: Vec<u8>,
    ) -> impl Future<Output = bool> + Send + 'static {
        let (tx, mut answer) = oneshot::channel();
        let durable = Arc::new(Durable {
            ack: Mutex::new(Some(tx)),
        });
        // What the wait needs to spill the record itself: only while the producer holds it.
        let mut held = None;
        if !self.closed.load(Ordering::Relaxed) {
            let value = self.stamp(line);
            match self
                .sender
                .send(&value, Box::new(Delivery::Durable(durable.clone())))
            {
                Ok(()) => held = Some((value, durable, self.shared.clone())),
                Err(refused) => {
                    self.shared.stats.failed(refused.why, &refused.error);
                    self.shared.spill(value, durable.take());
                }
            }
        }
        // Closed: the sender is dropped with `durable` here, and the answer is `false`.
        let wait = Duration::from_millis(self.cfg.durable_wait_ms);
        async move {
            if let Some((value, durable, shared)) = held {
                tokio::select! {
                    answered = &mut answer => return answered.unwrap_or(false),
                    () = tokio::time::sleep(wait) => {}
                }
                // No ack yet: the spill makes it durable now, unless the ack just came.
                if let Some(ack) = durable.take() {
                    shared.spill(value, Some(ack));
                }
            }
            answer.await.unwrap_or(false)
        }
    }

    /// `{"record_id":"<replica>-<seq>",` + the record without its `{`.
    fn stamp(&self, line: Vec<u8>) -> Vec<u8> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let Some(rest) = line.strip_prefix(b"{") else {
            return line;
        };
        let mut value = Vec::with_capacity(line.len() + 48);
        value.extend_from_slice(format!("{{\"record_id\":\"{}-{seq}\"", self.replica).as_bytes());
        if rest.first() != Some(&b'}') {
            value.push(b',');
        }
        value.extend_from_slice(rest);
        value
    }

    /// Stops accepting, stops the replayer, gives the producer `flush_timeout_ms` to deliver
    /// what it holds, then spills whatever it still holds and closes the spill. Idempotent.
    pub(super) async fn close(self: &Arc<Self>) {
        let mut done = self.closing.lock().await;
        if *done {
            return;
        }
        self.closed.store(true, Ordering::Relaxed);
        let replayer = self
            .replayer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let stream = self.clone();
        let closed = tokio::task::spawn_blocking(move || {
            if let Some(replayer) = replayer {
                replayer.stop();
            }
            let timeout = Duration::from_millis(stream.cfg.flush_timeout_ms);
            if let Err(e) = stream.sender.producer.flush(timeout) {
                let left = stream.sender.producer.in_flight_count();
                tracing::warn!(error = %e, left, "event stream: not all records delivered at stop; spilling the rest");
            }
            // What is left fails with a "purged" report, and failed records spill.
            stream
                .sender
                .producer
                .purge(PurgeConfig::default().queue().inflight());
            let _ = stream.sender.producer.flush(Duration::from_secs(1));
            stream.shared.spill.close();
        });
        if closed.await.is_err() {
            tracing::error!("event stream: closing panicked; records may be lost");
        }
        *done = true;
    }

    pub(super) fn status(&self) -> StreamStatus {
        let st = &self.shared.stats;
        let depth = self.sender.producer.in_flight_count().max(0) as u64;
        st.m_queue_depth.set(depth as f64);
        StreamStatus {
            backend: "kafka",
            brokers: self.cfg.brokers.clone(),
            health: st.health(),
            last_error: st.last_error(),
            queue_depth: depth,
            produced: st.produced.load(Ordering::Relaxed),
            spilled: st.spilled.load(Ordering::Relaxed),
            replayed: st.replayed.load(Ordering::Relaxed),
            failures: st.failures(),
            lost: st.lost.load(Ordering::Relaxed),
            spill_bytes: st.spill_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The producer's settings: the user's extra properties, then everything bidgate decides
/// (which the config check keeps them from overriding).
fn client_config(cfg: &EventStreamConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (key, value) in &cfg.properties {
        c.set(key, value);
    }
    c.set("bootstrap.servers", cfg.brokers.join(","))
        .set("client.id", "bidgate")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", cfg.delivery_timeout_ms.to_string())
        .set(
            "queue.buffering.max.messages",
            cfg.queue_capacity.to_string(),
        );
    c
}
