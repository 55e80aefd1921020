//! The stream's counters: Prometheus handles registered once at start (no label lookup per
//! record), mirrored in atomics for the status page and the tests.

use metrics::{Counter, Gauge, counter, gauge};
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Why a record did not reach Kafka on its first try: the `reason` label of
/// `bidgate_event_stream_failures_total`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Failure {
    /// The producer's queue (`event_stream.queue_capacity`) was full: spilled at once.
    QueueFull,
    /// The producer refused the record for another reason (too large, fatal error).
    Produce,
    /// Not acked within `delivery_timeout_ms`, or refused by the broker: spilled.
    Delivery,
    /// A replayed record was not acked: it stays in the spill for the next round.
    Replay,
}

const REASONS: [&str; 4] = ["queue_full", "produce", "delivery", "replay"];

/// What the stream last heard from Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Nothing delivered or failed yet.
    Starting,
    /// The last delivery was acked.
    Up,
    /// The last delivery failed (or the replayer's probe did): records are spilling.
    Down,
}

pub(crate) struct Stats {
    pub(super) produced: AtomicU64,
    pub(super) spilled: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) failures: [AtomicU64; 4],
    /// Bytes in the spill waiting for replay, as the replayer last saw them.
    pub(super) spill_bytes: AtomicU64,
    health: AtomicU8,
    last_error: Mutex<Option<String>>,
    m_produced: Counter,
    m_spilled: Counter,
    m_replayed: Counter,
    m_lost: Counter,
    m_failures: [Counter; 4],
    pub(super) m_queue_depth: Gauge,
    pub(super) m_spill_bytes: Gauge,
}

impl Stats {
    pub(super) fn new() -> Stats {
        Stats {
            produced: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            failures: Default::default(),
            spill_bytes: AtomicU64::new(0),
            health: AtomicU8::new(Health::Starting as u8),
            last_error: Mutex::new(None),
            m_produced: counter!("bidgate_event_stream_produced_total"),
            m_spilled: counter!("bidgate_event_stream_spilled_total"),
            m_replayed: counter!("bidgate_event_stream_replayed_total"),
            m_lost: counter!("bidgate_event_stream_lost_total"),
            m_failures: REASONS
                .map(|r| counter!("bidgate_event_stream_failures_total", "reason" => r)),
            m_queue_depth: gauge!("bidgate_event_stream_queue_depth"),
            m_spill_bytes: gauge!("bidgate_event_stream_spill_bytes"),
        }
    }

    pub(super) fn produced(&self) {
        self.produced.fetch_add(1, Ordering::Relaxed);
        self.m_produced.increment(1);
        self.set_health(Health::Up);
    }

    pub(super) fn replayed(&self) {
        self.replayed.fetch_add(1, Ordering::Relaxed);
        self.m_replayed.increment(1);
        self.set_health(Health::Up);
    }

    pub(super) fn spilled(&self, lines: u64) {
        self.spilled.fetch_add(lines, Ordering::Relaxed);
        self.m_spilled.increment(lines);
    }

    pub(super) fn lost(&self, lines: u64) {
        self.lost.fetch_add(lines, Ordering::Relaxed);
        self.m_lost.increment(lines);
    }

    pub(super) fn failed(&self, why: Failure, error: &dyn std::fmt::Display) {
        self.failures[why as usize].fetch_add(1, Ordering::Relaxed);
        self.m_failures[why as usize].increment(1);
        if !matches!(why, Failure::QueueFull) {
            self.down(error);
        }
    }

    pub(super) fn down(&self, error: &dyn std::fmt::Display) {
        if self.health() != Health::Down {
            tracing::warn!(%error, "event stream: Kafka is not taking records; spilling");
        }
        self.set_health(Health::Down);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
    }

    fn set_health(&self, h: Health) {
        let was = self.health.swap(h as u8, Ordering::Relaxed);
        if was == Health::Down as u8 && h == Health::Up {
            tracing::info!("event stream: Kafka acks records again");
        }
    }

    pub(super) fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            0 => Health::Starting,
            1 => Health::Up,
            _ => Health::Down,
        }
    }

    pub(super) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn failures(&self) -> u64 {
        self.failures
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .sum()
    }
}

/// The event stream's state, for `/admin/status` and the status page.
#[derive(Debug, Clone, Serialize)]
pub struct StreamStatus {
    pub backend: &'static str,
    pub brokers: Vec<String>,
    pub health: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Records in the producer, not yet acked.
    pub queue_depth: u64,
    pub produced: u64,
    pub spilled: u64,
    pub replayed: u64,
    pub failures: u64,
    /// Records neither delivered nor spilled (should stay 0).
    pub lost: u64,
    /// Bytes in the spill waiting for replay.
    pub spill_bytes: u64,
}
