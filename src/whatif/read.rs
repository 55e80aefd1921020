//! Reading an event log for replay: every `*.jsonl` file of a directory (in name order, which
//! is time order) or one file, line by line. A line that does not read as a record is
//! reported and skipped; nothing in a log can stop the scan or panic it.

use crate::events::record::{AuctionRecord, Record};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Lines longer than this are not records bidgate wrote (a replay record is bounded well
/// below it): reported and skipped without being parsed.
const MAX_LINE: usize = 4 << 20;
/// Problems quoted in the report; the rest are only counted.
const MAX_PROBLEMS: usize = 20;

/// What a scan saw besides the auctions it handed on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogStats {
    pub files: usize,
    /// Auctions recorded with their bids, handed to the caller.
    pub replayable: usize,
    /// Auction records without bids (sampled by `sample_auctions` only).
    pub without_bids: usize,
    /// Recorded with bids but cut short (`truncated`): not replayed.
    pub truncated: usize,
    /// Tracking events: not auctions.
    pub events: usize,
    /// Lines that are not records.
    pub bad_lines: usize,
    /// The first few bad lines: `file:line: why`.
    pub problems: Vec<String>,
}

impl LogStats {
    fn bad(&mut self, file: &Path, line: usize, why: impl std::fmt::Display) {
        self.bad_lines += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems
                .push(format!("{}:{line}: {why}", file.display()));
        }
    }
}

/// Hands every replayable auction of the log at `path` to `each`, in file and line order.
/// Errors only when `path` itself cannot be read; a file that cannot be read is a problem.
pub fn scan(path: &Path, mut each: impl FnMut(&AuctionRecord)) -> std::io::Result<LogStats> {
    let files = files(path)?;
    let mut stats = LogStats {
        files: files.len(),
        ..LogStats::default()
    };
    for file in &files {
        let reader = match std::fs::File::open(file) {
            Ok(f) => BufReader::new(f),
            Err(e) => {
                stats.bad(file, 0, format!("cannot open: {e}"));
                continue;
            }
        };
        scan_lines(file, reader, &mut stats, &mut each);
    }
    Ok(stats)
}

fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn scan_lines(
    file: &Path,
    mut reader: impl BufRead,
    stats: &mut LogStats,
    each: &mut impl FnMut(&AuctionRecord),
) {
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        n += 1;
        // Reads at most MAX_LINE + 1 bytes of a line; the rest of a longer one is skipped.
        match Read::take(reader.by_ref(), MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                stats.bad(file, n, format!("read error: {e}"));
                return;
            }
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            stats.bad(file, n, format!("line longer than {MAX_LINE} bytes"));
            if let Err(e) = skip_line(&mut reader) {
                stats.bad(file, n, format!("read error: {e}"));
                return;
            }
            continue;
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(Record::Event(_)) => stats.events += 1,
            Ok(Record::Auction(a)) => match &a.replay {
                None => stats.without_bids += 1,
                Some(r) if r.truncated => stats.truncated += 1,
                Some(_) => {
                    stats.replayable += 1;
                    each(&a);
                }
            },
            Err(e) => stats.bad(file, n, e),
        }
    }
}

fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let len = chunk.len();
        reader.consume(len);
    }
}
