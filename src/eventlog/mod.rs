//! The event log: the gateway's own append-only record of auctions and tracking events, one
//! JSON object per line, in hourly files `{dir}/events-YYYY-MM-DDTHH.jsonl` (UTC).
//!
//! Local files, because the request path must never wait for a disk, a network or a
//! collector being up; a shipper picks the files up, and a finished hour never changes again.
//!
//! The request path only serialises its record (on its own thread, so the cost lands where it
//! is incurred) and hands the line to a bounded queue with `try_send`. One dedicated OS thread
//! owns the files and does every write, flush and fsync; the async runtime never touches the
//! disk. A full queue drops the record and counts it: as with auctions, overload is refused,
//! not queued, and a slow disk costs records, never latency.
//!
//! The writer takes whatever is queued as one batch: it writes the batch with one `write_all`,
//! fsyncs according to [`Fsync`], then acknowledges the durable appends of that batch (group
//! commit: one fsync serves every record waiting for it). A line is never split or mixed with
//! another: lines are whole before they are queued, the queue is FIFO and one thread writes.
//!
//! Metrics: `bidgate_event_log_records_total` (lines written), `bidgate_event_log_lost_total
//! {reason}` (`queue_full`, `closed`, `write_error`, and `serialize` for a record serde_json
//! refuses) and the gauge `bidgate_event_log_queue_depth`, set by the writer once per batch.
//!
//! With `event_stream.backend = "kafka"` the same handle feeds a Kafka producer instead
//! (`kafka`): same calls, same promise (`append_durable` resolves once the record is
//! durable), and the directory holds only the spill of what Kafka did not take.

pub mod kafka;
mod name;
mod writer;

pub use crate::config::{EventLogConfig, EventStreamConfig, Fsync, StreamBackend};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;

use arc_swap::ArcSwapOption;
use metrics::{counter, gauge};
use serde::Serialize;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, watch};

/// A handle to the log. Cheap to clone (an `Arc`); every clone feeds the same writer.
///
/// Call [`EventLog::close`] before the process exits: it is what guarantees that everything
/// accepted reached the file. Dropping every handle without closing also lets the writer
/// drain the queue and finish, but nothing waits for it.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed. Dropping the last sender is how the writer learns to finish: it
    /// then drains what is queued and exits; no "stop" message needs a free slot in the queue.
    tx: ArcSwapOption<SyncSender<Msg>>,
    stats: Arc<Stats>,
    /// Turns `true` when the writer has written, fsynced and closed everything.
    finished: watch::Receiver<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The Kafka backend, which then takes every record (the file writer is not started).
    stream: Option<Arc<kafka::Stream>>,
}

/// One line, newline included, and for a durable append whom to tell how it went.
struct Msg {
    line: Vec<u8>,
    ack: Option<oneshot::Sender<bool>>,
}

/// The wall clock that picks the hourly file.
type Clock = Box<dyn Fn() -> SystemTime + Send>;
/// Opens (creating if missing) a file for appending.
type Opener = Box<dyn FnMut(&Path) -> io::Result<File> + Send>;

/// Injected into the writer so tests can move time and break the disk.
struct Hooks {
    clock: Clock,
    open: Opener,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            clock: Box::new(SystemTime::now),
            open: Box::new(writer::open_append),
        }
    }
}

impl EventLog {
    /// The log `[event_log]` and `[event_stream]` ask for: none without `event_log.dir`,
    /// else the hourly files or the Kafka producer (spilling to the directory).
    pub fn open(log: &EventLogConfig, stream: &EventStreamConfig) -> io::Result<Option<EventLog>> {
        let Some(dir) = &log.dir else {
            return Ok(None);
        };
        if stream.backend == StreamBackend::File {
            return Self::start(dir, log).map(Some);
        }
        let kafka = kafka::Stream::start(dir, log.queue_capacity, stream)?;
        let (_, finished) = watch::channel(true);
        Ok(Some(EventLog {
            inner: Arc::new(Inner {
                tx: ArcSwapOption::empty(),
                stats: Arc::new(Stats::default()),
                finished,
                thread: Mutex::new(None),
                stream: Some(Arc::new(kafka)),
            }),
        }))
    }

    /// The Kafka stream's state, with that backend.
    pub fn stream_status(&self) -> Option<kafka::StreamStatus> {
        self.inner.stream.as_ref().map(|s| s.status())
    }

    /// Creates `dir` if missing and starts the writer thread. `dir` is passed apart from
    /// `cfg` so the caller decides how it is resolved; `cfg.dir` is not read here.
    pub fn start(dir: &Path, cfg: &EventLogConfig) -> io::Result<EventLog> {
        Self::start_with(dir, cfg, Hooks::default())
    }

    fn start_with(dir: &Path, cfg: &EventLogConfig, hooks: Hooks) -> io::Result<EventLog> {
        std::fs::create_dir_all(dir)?;
        // `sync_channel(0)` would be a rendezvous: every append would find the queue full.
        let (tx, rx) = sync_channel(cfg.queue_capacity.max(1));
        let (done, finished) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let writer = writer::Writer::new(
            dir.to_path_buf(),
            cfg.fsync,
            Duration::from_millis(cfg.fsync_interval_ms),
            hooks,
            stats.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("event-log".into())
            .spawn(move || writer.run(rx, done))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                tx: ArcSwapOption::from_pointee(tx),
                stats,
                finished,
                thread: Mutex::new(Some(thread)),
                stream: None,
            }),
        })
    }

    /// Serialises `record` as one line on the caller's thread and queues it without ever
    /// blocking. `false` when it was lost (queue full or log closed), which is counted in
    /// `bidgate_event_log_lost_total{reason}`. A line lost later to a write error is counted
    /// there too (`write_error`), but `append` has returned `true` by then.
    pub fn append<T: Serialize>(&self, record: &T) -> bool {
        self.line(record)
            .is_some_and(|mut line| match &self.inner.stream {
                Some(stream) => {
                    line.pop();
                    stream.append(line)
                }
                None => self.enqueue(Msg { line, ack: None }),
            })
    }

    /// Like [`EventLog::append`], but the future resolves once the line is written to the file
    /// (and, with `fsync = "always"`, fsynced): `true`, or `false` when the record was lost
    /// (queue full, closed, write error).
    ///
    /// The record is serialised and queued *now*, when this is called, not when the future is
    /// first polled: appends keep the order of the calls, and the future borrows nothing (it
    /// is `Send + 'static` whatever `T` is). Waiting never blocks a thread: the writer
    /// answers through a oneshot channel. Dropping the future does not un-queue the record.
    pub fn append_durable<T: Serialize>(
        &self,
        record: &T,
    ) -> impl Future<Output = bool> + Send + 'static {
        if let Some(stream) = &self.inner.stream {
            let durable = self.line(record).map(|mut line| {
                line.pop();
                stream.append_durable(line)
            });
            return futures_util::future::Either::Left(async move {
                match durable {
                    Some(durable) => durable.await,
                    None => false,
                }
            });
        }
        let (ack, written) = oneshot::channel();
        let queued = self.line(record).is_some_and(|line| {
            self.enqueue(Msg {
                line,
                ack: Some(ack),
            })
        });
        futures_util::future::Either::Right(async move { queued && written.await.unwrap_or(false) })
    }

    /// Stops accepting (later appends return `false`, counted as `closed`), lets the writer
    /// write everything accepted before, flush and fsync it, then joins the writer thread.
    ///
    /// Safe in async code: the wait for the writer is an async wait (a `watch` channel the
    /// writer sets as its last act), so no executor thread blocks while the queue drains; the
    /// join that follows only collects a thread that has nothing left to do. Idempotent:
    /// every call, concurrent ones included, returns once the log is fully closed.
    pub async fn close(&self) {
        if let Some(stream) = &self.inner.stream {
            return stream.close().await;
        }
        self.inner.tx.store(None);
        let mut finished = self.inner.finished.clone();
        // An error means the writer is gone without saying so (it panicked): nothing to wait for.
        let _ = finished.wait_for(|done| *done).await;
        let thread = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("event log writer panicked; queued records may be lost");
        }
    }

    fn line<T: Serialize>(&self, record: &T) -> Option<Vec<u8>> {
        let mut line = Vec::with_capacity(256);
        // serde_json escapes control characters in strings: a record is always one line.
        match serde_json::to_writer(&mut line, record) {
            Ok(()) => {
                line.push(b'\n');
                Some(line)
            }
            Err(e) => {
                self.inner.stats.lost(Lost::Serialize, 1);
                tracing::debug!(error = %e, "event log: record not serialisable");
                None
            }
        }
    }

    fn enqueue(&self, msg: Msg) -> bool {
        let tx = self.inner.tx.load();
        let Some(tx) = tx.as_ref() else {
            self.inner.stats.lost(Lost::Closed, 1);
            return false;
        };
        // Counted before sending, so the writer never takes out more than was put in.
        self.inner.stats.queued.fetch_add(1, Ordering::Relaxed);
        let lost = match tx.try_send(msg) {
            Ok(()) => return true,
            Err(TrySendError::Full(_)) => Lost::QueueFull,
            // The writer is gone (it can only have panicked): as good as closed.
            Err(TrySendError::Disconnected(_)) => Lost::Closed,
        };
        self.inner.stats.queued.fetch_sub(1, Ordering::Relaxed);
        self.inner.stats.lost(lost, 1);
        false
    }

    #[cfg(test)]
    fn counts(&self) -> Counts {
        let s = &self.inner.stats;
        let lost = |reason: Lost| s.lost[reason as usize].load(Ordering::Relaxed);
        Counts {
            written: s.written.load(Ordering::Relaxed),
            queue_full: lost(Lost::QueueFull),
            closed: lost(Lost::Closed),
            write_error: lost(Lost::WriteError),
        }
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("closed", &self.inner.tx.load().is_none())
            .finish_non_exhaustive()
    }
}

/// Why a record was lost: the `reason` label of `bidgate_event_log_lost_total`.
#[derive(Debug, Clone, Copy)]
enum Lost {
    QueueFull,
    Closed,
    WriteError,
    Serialize,
}

impl Lost {
    fn label(self) -> &'static str {
        match self {
            Lost::QueueFull => "queue_full",
            Lost::Closed => "closed",
            Lost::WriteError => "write_error",
            Lost::Serialize => "serialize",
        }
    }
}

/// The metrics, mirrored in atomics so tests can read them without a global recorder.
#[derive(Default)]
struct Stats {
    /// Records accepted and not yet taken by the writer.
    queued: AtomicUsize,
    written: AtomicU64,
    lost: [AtomicU64; 4],
}

impl Stats {
    fn written(&self, lines: u64) {
        self.written.fetch_add(lines, Ordering::Relaxed);
        counter!("bidgate_event_log_records_total").increment(lines);
    }

    fn lost(&self, reason: Lost, lines: u64) {
        self.lost[reason as usize].fetch_add(lines, Ordering::Relaxed);
        counter!("bidgate_event_log_lost_total", "reason" => reason.label()).increment(lines);
    }

    /// The writer took `lines` records out of the queue.
    fn taken(&self, lines: usize) {
        let left = self
            .queued
            .fetch_sub(lines, Ordering::Relaxed)
            .saturating_sub(lines);
        gauge!("bidgate_event_log_queue_depth").set(left as f64);
    }
}

#[cfg(test)]
#[derive(Debug, Default, PartialEq)]
struct Counts {
    written: u64,
    queue_full: u64,
    closed: u64,
    write_error: u64,
}
