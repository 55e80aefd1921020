//! The spill: records Kafka did not take, kept on local disk until the replayer gives them to
//! Kafka. Segment files `{event_log.dir}/kafka-spill/spill-NNNNNNNNNNNN.jsonl`, one Kafka
//! message value (the record with its `record_id`) per line: the same JSON lines as the file
//! backend's log, so a shipper or a person can read them too.
//!
//! One thread writes, like the file backend's writer: it takes whatever is queued as one
//! batch, writes it, fsyncs it (always: a spilled record is what "durable" falls back to
//! when Kafka is away) and only then acknowledges it. The queue is bounded and never waited
//! on: a full queue loses the record, counted in `bidgate_event_stream_lost_total`.
//!
//! The replayer asks the writer to *seal* the current segment before it reads any: a sealed
//! segment is never written again, so a segment being replayed (and then deleted) cannot
//! receive a late line.

use super::Stats;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Stop adding to a batch past this, so that durable appenders get answers batch by batch.
const MAX_BATCH_BYTES: usize = 1 << 20;

pub(super) enum Msg {
    /// A message value (no newline) and, for a durable append, whom to tell.
    Line(Vec<u8>, Option<oneshot::Sender<bool>>),
    /// Close the current segment; answers the number of the first segment not sealed.
    Seal(std::sync::mpsc::Sender<u64>),
}

pub(super) struct Spill {
    tx: std::sync::Mutex<Option<SyncSender<Msg>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    pub(super) dir: PathBuf,
}

impl Spill {
    /// Creates `dir` and starts the writer; new lines go to a segment numbered after every
    /// segment already there (a previous run's spill is replayed, never appended to).
    pub(super) fn start(dir: PathBuf, capacity: usize, stats: Arc<Stats>) -> io::Result<Spill> {
        std::fs::create_dir_all(&dir)?;
        let next = segments(&dir)?.last().map_or(0, |(n, _)| n + 1);
        let (tx, rx) = sync_channel(capacity.max(1));
        let writer = Writer {
            dir: dir.clone(),
            next,
            file: None,
            stats,
        };
        let thread = std::thread::Builder::new()
            .name("event-spill".into())
            .spawn(move || writer.run(rx))?;
        Ok(Spill {
            tx: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
            dir,
        })
    }

    /// Queues a line without blocking; `false` when it is lost (queue full, or closed). A
    /// durable appender's `ack` is answered by the writer, or dropped (= lost) here.
    pub(super) fn push(&self, value: Vec<u8>, ack: Option<oneshot::Sender<bool>>) -> bool {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match tx.map(|tx| tx.try_send(Msg::Line(value, ack))) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => false,
        }
    }

    /// Seals the current segment (blocking: the replayer's thread): every segment numbered
    /// below the answer is complete and will not change. `None` once closed.
    pub(super) fn seal(&self) -> Option<u64> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let (reply, sealed) = std::sync::mpsc::channel();
        tx.send(Msg::Seal(reply)).ok()?;
        sealed.recv().ok()
    }

    /// Stops accepting, lets the writer write, fsync and close everything queued, joins it.
    /// Blocking: call it from a blocking context.
    pub(super) fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("event stream: the spill writer panicked; spilled records may be lost");
        }
    }
}

/// The spill's segments, oldest first: (number, path).
pub(super) fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("spill-")?.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = number {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn segment_name(n: u64) -> String {
    format!("spill-{n:012}.jsonl")
}

struct Writer {
    dir: PathBuf,
    /// The number the next segment opened gets.
    next: u64,
    file: Option<(File, u64)>,
    stats: Arc<Stats>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut acks = Vec::new();
        let mut lines = 0u64;
        while let Ok(first) = rx.recv() {
            let mut msg = Some(first);
            // A batch: lines up to the first seal (or the size cap), then that seal.
            loop {
                match msg.take() {
                    Some(Msg::Line(value, ack)) => {
                        buf.extend_from_slice(&value);
                        buf.push(b'\n');
                        acks.extend(ack);
                        lines += 1;
                        if buf.len() < MAX_BATCH_BYTES {
                            msg = rx.try_recv().ok();
                        }
                    }
                    seal => {
                        msg = seal;
                        break;
                    }
                }
            }
            if lines > 0 {
                let written = self.write(&buf);
                match &written {
                    Ok(()) => self.stats.spilled(lines),
                    Err(e) => {
                        self.stats.lost(lines);
                        tracing::error!(error = %e, lost = lines, "event stream: spill write failed");
                    }
                }
                for ack in acks.drain(..) {
                    let _ = ack.send(written.is_ok());
                }
                buf.clear();
                lines = 0;
            }
            if let Some(Msg::Seal(reply)) = msg {
                self.file = None;
                let _ = reply.send(self.next);
            }
        }
    }

    /// Appends and fsyncs a batch; a failed write is cut back off the segment, and the next
    /// batch opens a fresh segment.
    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let (mut file, len) = match self.file.take() {
            Some(open) => open,
            None => {
                let path = self.dir.join(segment_name(self.next));
                self.next += 1;
                let file = OpenOptions::new().append(true).create(true).open(path)?;
                // The new name must survive a crash too.
                File::open(&self.dir)?.sync_all()?;
                (file, 0)
            }
        };
        if let Err(e) = file.write_all(buf).and_then(|()| file.sync_data()) {
            let _ = file.set_len(len);
            return Err(e);
        }
        self.file = Some((file, len + buf.len() as u64));
        Ok(())
    }
}
