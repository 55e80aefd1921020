//! The replayer: a thread of its own (it reads files and waits; the request path never
//! does) that gives the spill back to Kafka once the broker answers.
//!
//! Every `replay_interval_ms`, when the spill has segments: a metadata request probes the
//! cluster; if it answers, the current segment is sealed (never written again) and the
//! sealed segments are produced again, oldest first, each line to the topic and with the
//! key its record names, at most `MAX_IN_FLIGHT` at once (replay never fills the producer's
//! queue that live records need). A segment is deleted only once every one of its records is
//! acked; a failure leaves it whole for the next round, so a record may be delivered twice
//! (same `record_id`), never lost.

use super::spill::segments;
use super::stats::Stats;
use super::{Delivery, Sender, Stream, spill::Spill};
use rdkafka::producer::Producer;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Replayed records waiting for their ack, at most.
const MAX_IN_FLIGHT: u64 = 10_000;
/// A metadata probe gives up after this (or the interval, when shorter).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The running replayer.
pub(super) struct Handle {
    stop: Arc<AtomicBool>,
    wake: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Handle {
    /// Stops the replayer between two records and joins it (blocking). A segment it was
    /// replaying stays, to be replayed whole at the next start.
    pub(super) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.wake);
        if self.thread.join().is_err() {
            tracing::error!("event stream: the replayer panicked");
        }
    }
}

/// The delivery reports of one segment's records.
#[derive(Default)]
pub(super) struct Batch {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl Batch {
    pub(super) fn done(&self, ok: bool) {
        let counter = if ok { &self.acked } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn settled(&self) -> u64 {
        self.acked.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

struct Replayer {
    sender: Sender,
    spill: Arc<super::Shared>,
    dir: PathBuf,
    interval: Duration,
    /// How long a replayed record may take to be acked (or fail).
    patience: Duration,
    stop: Arc<AtomicBool>,
}

pub(super) fn start(stream: &Stream) -> std::io::Result<Handle> {
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, sleep) = channel::<()>();
    let replayer = Replayer {
        sender: stream.sender.clone(),
        spill: stream.shared.clone(),
        dir: stream.shared.spill.dir.clone(),
        interval: Duration::from_millis(stream.cfg.replay_interval_ms),
        patience: Duration::from_millis(stream.cfg.delivery_timeout_ms) + Duration::from_secs(1),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("event-replay".into())
        .spawn(move || {
            // Woken only to stop: the sender is dropped then.
            while let Err(RecvTimeoutError::Timeout) = sleep.recv_timeout(replayer.interval) {
                replayer.round();
            }
        })?;
    Ok(Handle { stop, wake, thread })
}

impl Replayer {
    fn stats(&self) -> &Stats {
        &self.spill.stats
    }

    fn spill(&self) -> &Spill {
        &self.spill.spill
    }

    fn round(&self) {
        let depth = self.sender.producer.in_flight_count().max(0);
        self.stats().m_queue_depth.set(f64::from(depth));
        let Ok(found) = segments(&self.dir) else {
            return;
        };
        self.note_size(&found);
        if found.is_empty() {
            return;
        }
        let probe = PROBE_TIMEOUT.min(self.interval);
        if let Err(e) = self.sender.producer.client().fetch_metadata(None, probe) {
            self.stats().down(&e);
            return;
        }
        let Some(sealed) = self.spill().seal() else {
            return;
        };
        let Ok(found) = segments(&self.dir) else {
            return;
        };
        for (_, path) in found.iter().filter(|(n, _)| *n < sealed) {
            if !self.replay(path) {
                break;
            }
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(error = %e, path = %path.display(), "event stream: replayed segment not removed; it will be replayed again");
                break;
            }
        }
        if let Ok(left) = segments(&self.dir) {
            self.note_size(&left);
        }
    }

    fn note_size(&self, found: &[(u64, PathBuf)]) {
        let bytes: u64 = found
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        self.stats().spill_bytes.store(bytes, Ordering::Relaxed);
        self.stats().m_spill_bytes.set(bytes as f64);
    }

    /// Produces every record of a sealed segment and waits for their reports: `true` when
    /// every one was acked.
    fn replay(&self, path: &Path) -> bool {
        let Ok(file) = std::fs::File::open(path) else {
            return false;
        };
        let batch = Arc::new(Batch::default());
        let mut sent = 0u64;
        for line in BufReader::new(file).split(b'\n') {
            let Ok(line) = line else { return false };
            if line.is_empty() {
                continue;
            }
            if serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_err() {
                // A line torn by a crash mid-write: never acknowledged, so never promised.
                tracing::warn!(path = %path.display(), "event stream: unreadable spill line skipped");
                self.stats().lost(1);
                continue;
            }
            loop {
                if self.stop.load(Ordering::Relaxed) || batch.failed.load(Ordering::Relaxed) > 0 {
                    return false;
                }
                if sent - batch.settled() >= MAX_IN_FLIGHT {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                match self
                    .sender
                    .send(&line, Box::new(Delivery::Replay(batch.clone())))
                {
                    Ok(()) => {
                        sent += 1;
                        break;
                    }
                    // Live records have filled the queue: wait for room.
                    Err(refused) if matches!(refused.why, super::Failure::QueueFull) => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(refused) => {
                        self.stats().failed(super::Failure::Replay, &refused.error);
                        return false;
                    }
                }
            }
        }
        let deadline = Instant::now() + self.patience;
        while batch.settled() < sent {
            if self.stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        batch.failed.load(Ordering::Relaxed) == 0
    }
}
