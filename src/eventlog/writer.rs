//! The writer thread: the only code that touches the event log's files.
//!
//! A batch is everything queued when the writer gets to it (up to `MAX_BATCH_BYTES`), joined
//! into one buffer and written with one `write_all`. Accounting is per batch: either the whole
//! batch was written (and, with `always`, fsynced) or the whole batch counts as lost. A write
//! that fails halfway is cut back off the file, and a file found ending in a torn line (this
//! process failed to cut it, or an earlier one crashed mid-write) gets a newline before
//! anything else is appended: a torn line never swallows the next good one. Cutting back
//! assumes what this module assumes throughout: one gateway process per directory.

use super::name::{file_name, hour_of};
use super::{Fsync, Hooks, Lost, Msg, Stats};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Stop adding to a batch past this: durable appenders in a long queue get their answers
/// batch by batch instead of all after one huge write.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// A failing disk fails every batch; one warning per this long says so without flooding.
const WARN_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Writer {
    dir: PathBuf,
    mode: Fsync,
    interval: Duration,
    hooks: Hooks,
    stats: Arc<Stats>,
    /// The open file, or `None` before the first batch and after an error (the next batch
    /// opens it again: that is the retry).
    file: Option<Current>,
    /// Something was written to `file` since it was last fsynced.
    dirty: bool,
    last_sync: Instant,
    /// The batch being assembled, and the durable appenders waiting for it.
    buf: Vec<u8>,
    acks: Vec<oneshot::Sender<bool>>,
    warned: Option<Instant>,
    /// Warnings not logged since the last one that was.
    suppressed: u64,
    /// The last batch failed: the next success is worth a log line.
    failing: bool,
}

struct Current {
    hour: u64,
    file: File,
    /// Where our last complete batch ends, to cut a partial write back to.
    len: u64,
}

impl Writer {
    pub(super) fn new(
        dir: PathBuf,
        mode: Fsync,
        interval: Duration,
        hooks: Hooks,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            dir,
            mode,
            interval,
            hooks,
            stats,
            file: None,
            dirty: false,
            last_sync: Instant::now(),
            buf: Vec::with_capacity(64 * 1024),
            acks: Vec::new(),
            warned: None,
            suppressed: 0,
            failing: false,
        }
    }

    /// Writes batches until every sender is gone and the queue is empty, then finishes the
    /// current file and says so on `done`.
    pub(super) fn run(mut self, rx: Receiver<Msg>, done: watch::Sender<bool>) {
        while let Some(first) = self.next(&rx) {
            self.add(first);
            let mut lines = 1;
            while self.buf.len() < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(msg) => {
                        self.add(msg);
                        lines += 1;
                    }
                    Err(_) => break,
                }
            }
            self.stats.taken(lines);
            self.commit(lines as u64);
        }
        if let Some(current) = self.file.take() {
            self.finish(current);
        }
        let _ = done.send(true);
    }

    /// The next record, fsyncing on time while waiting for it in `interval` mode.
    fn next(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        loop {
            if !(self.dirty && self.mode == Fsync::Interval) {
                return rx.recv().ok();
            }
            let due = self.last_sync + self.interval;
            match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Timeout) => self.sync_current(),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn add(&mut self, msg: Msg) {
        self.buf.extend_from_slice(&msg.line);
        self.acks.extend(msg.ack);
    }

    /// Writes the batch, counts it, answers its durable appenders.
    fn commit(&mut self, lines: u64) {
        let written = match self.write_batch() {
            Ok(()) => {
                self.stats.written(lines);
                if std::mem::take(&mut self.failing) {
                    tracing::info!(dir = %self.dir.display(), "event log: writing again");
                }
                true
            }
            Err(e) => {
                self.stats.lost(Lost::WriteError, lines);
                self.failing = true;
                self.warn("write failed, records lost", &e, lines);
                false
            }
        };
        for ack in self.acks.drain(..) {
            // The appender may have stopped waiting; the record is written all the same.
            let _ = ack.send(written);
        }
        self.buf.clear();
    }

    /// On error the file is dropped, to be opened afresh by the next batch.
    fn write_batch(&mut self) -> io::Result<()> {
        let hour = hour_of((self.hooks.clock)());
        let mut current = match self.file.take() {
            Some(current) if current.hour == hour => current,
            previous => {
                if let Some(previous) = previous {
                    self.finish(previous);
                }
                self.open(hour)?
            }
        };
        if let Err(e) = current.file.write_all(&self.buf) {
            // Cut a partial batch back off; if even that fails, the next open repairs the tail.
            let _ = current.file.set_len(current.len);
            return Err(e);
        }
        current.len += self.buf.len() as u64;
        self.dirty = true;
        match self.mode {
            Fsync::Never => {}
            Fsync::Interval => {
                if self.last_sync.elapsed() >= self.interval {
                    // Already written, this batch counts as such even if the fsync fails:
                    // the error may concern any line since the last fsync; the warning says so.
                    self.file = Some(current);
                    self.sync_current();
                    return Ok(());
                }
            }
            Fsync::Always => {
                // A failed fsync fails the batch: its lines may be in the file after all, but
                // nobody was told they were safe.
                current.file.sync_data()?;
                self.dirty = false;
                self.last_sync = Instant::now();
            }
        }
        self.file = Some(current);
        Ok(())
    }

    /// Opens the file of `hour`, closing a torn last line first.
    fn open(&mut self, hour: u64) -> io::Result<Current> {
        let path = self.dir.join(file_name(hour));
        let mut file = (self.hooks.open)(&path)?;
        let mut len = file.metadata()?.len();
        if len > 0 && ends_torn(&file, len) {
            file.write_all(b"\n")?;
            len += 1;
        }
        if self.mode == Fsync::Always {
            // A new file's name must survive a crash too; once per file opened, so cheap.
            if let Err(e) = File::open(&self.dir).and_then(|dir| dir.sync_all()) {
                self.warn("fsync of the directory failed", &e, 0);
            }
        }
        self.dirty = false;
        Ok(Current { hour, file, len })
    }

    /// A file is done (new hour, or closing): whatever the mode, it gets its last fsync.
    fn finish(&mut self, current: Current) {
        if self.dirty {
            if let Err(e) = current.file.sync_data() {
                self.warn("fsync of a finished file failed", &e, 0);
            }
            self.dirty = false;
            self.last_sync = Instant::now();
        }
    }

    /// The timed fsync of `interval` mode, while the queue is idle.
    fn sync_current(&mut self) {
        self.last_sync = Instant::now();
        self.dirty = false;
        let Some(current) = &self.file else { return };
        if let Err(e) = current.file.sync_data() {
            // The lines are counted as written already; reopening at least starts clean.
            self.file = None;
            self.warn("fsync failed, recent records may not be on disk", &e, 0);
        }
    }

    fn warn(&mut self, what: &'static str, error: &io::Error, lost: u64) {
        let now = Instant::now();
        if self
            .warned
            .is_some_and(|at| now.duration_since(at) < WARN_EVERY)
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            dir = %self.dir.display(),
            %error,
            lost,
            suppressed = self.suppressed,
            "event log: {what}"
        );
        self.warned = Some(now);
        self.suppressed = 0;
    }
}

/// Whether the last byte is something other than a newline. A file that cannot be read
/// (an opener that gave write-only access) is taken as whole: the check is a repair, not a gate.
fn ends_torn(file: &File, len: u64) -> bool {
    let mut last = [0u8];
    matches!(file.read_at(&mut last, len - 1), Ok(1) if last[0] != b'\n')
}

/// The default opener: append, create if missing, readable for `ends_torn`. If the directory
/// has gone (someone cleaned up too eagerly), it is created again.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            options.open(path)
        }
        opened => opened,
    }
}
