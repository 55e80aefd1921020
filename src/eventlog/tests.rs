//! The event log on a healthy disk: content, order, durability, closing, config.
//! Faults (full queue, failing disk, torn files) and rotation are in `tests_faults.rs`.

use super::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;

/// A fresh directory under the system temp dir, removed when dropped (even on failure).
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("bidgate-eventlog-{tag}-{}-{n}-{nanos}", std::process::id());
        Self(std::env::temp_dir().join(name))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }

    /// File names in the directory, sorted (which is time order).
    pub(super) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Every line of every file, in time order. A test running across an hour boundary
    /// writes two files; reading them in order gives the same lines.
    pub(super) fn lines(&self) -> Vec<String> {
        self.files()
            .iter()
            .flat_map(|name| {
                let text = std::fs::read_to_string(self.0.join(name)).unwrap();
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{name}: torn last line"
                );
                text.lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn config(fsync: Fsync, queue_capacity: usize) -> EventLogConfig {
    EventLogConfig {
        fsync,
        queue_capacity,
        ..EventLogConfig::default()
    }
}

pub(super) fn record(seq: u64) -> Value {
    json!({"type": "auction", "seq": seq, "note": "line\nbreaks stay escaped"})
}

pub(super) fn line(seq: u64) -> String {
    serde_json::to_string(&record(seq)).unwrap()
}

#[tokio::test]
async fn close_writes_every_record_in_order() {
    let dir = TempDir::new("order");
    let log = EventLog::start(dir.path(), &config(Fsync::Interval, 65_536)).unwrap();
    for seq in 0..1000 {
        assert!(log.append(&record(seq)));
    }
    log.close().await;
    let want: Vec<String> = (0..1000).map(line).collect();
    let got = dir.lines();
    assert_eq!(got, want);
    for l in &got {
        serde_json::from_str::<Value>(l).unwrap();
    }
    let counts = log.counts();
    assert_eq!(counts.written, 1000);
    assert_eq!(counts.queue_full + counts.closed + counts.write_error, 0);
}

#[tokio::test]
async fn a_durable_append_resolves_once_its_line_is_in_the_file() {
    for mode in [Fsync::Never, Fsync::Interval, Fsync::Always] {
        let dir = TempDir::new("durable");
        let log = EventLog::start(dir.path(), &config(mode, 1024)).unwrap();
        for seq in 0..20 {
            // A plain append before it is written no later than the durable one.
            assert!(log.append(&record(2 * seq)));
            assert!(log.append_durable(&record(2 * seq + 1)).await, "{mode:?}");
            let lines = dir.lines();
            assert_eq!(lines.len() as u64, 2 * seq + 2, "{mode:?}");
            assert_eq!(lines.last(), Some(&line(2 * seq + 1)), "{mode:?}");
        }
        log.close().await;
    }
}

#[tokio::test]
async fn a_durable_append_keeps_the_order_of_the_calls() {
    let dir = TempDir::new("call-order");
    let log = EventLog::start(dir.path(), &config(Fsync::Always, 16)).unwrap();
    // Queued at the call, not at the first poll: 0 goes before 1.
    let first = log.append_durable(&record(0));
    assert!(log.append(&record(1)));
    assert!(first.await);
    log.close().await;
    assert_eq!(dir.lines(), vec![line(0), line(1)]);
}

#[tokio::test]
async fn after_close_appends_are_lost_as_closed_and_close_is_idempotent() {
    let dir = TempDir::new("closed");
    let log = EventLog::start(dir.path(), &config(Fsync::Interval, 16)).unwrap();
    assert!(log.append(&record(0)));
    let other = log.clone();
    tokio::join!(log.close(), other.close());
    log.close().await;
    assert!(!log.append(&record(1)));
    assert!(!other.append_durable(&record(2)).await);
    assert_eq!(dir.lines(), vec![line(0)]);
    let counts = log.counts();
    assert_eq!((counts.written, counts.closed), (1, 2));
    assert!(format!("{log:?}").contains("closed: true"));
}

#[tokio::test]
async fn concurrent_appenders_never_interleave_and_each_keeps_its_order() {
    let dir = TempDir::new("threads");
    let log = EventLog::start(dir.path(), &config(Fsync::Never, 65_536)).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for seq in 0..500u64 {
                    let padding = "x".repeat((seq % 7 * 300) as usize);
                    assert!(log.append(&json!({"thread": t, "seq": seq, "pad": padding})));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    log.close().await;
    let mut next = [0u64; 4];
    let lines = dir.lines();
    assert_eq!(lines.len(), 2000);
    for l in lines {
        let v: Value = serde_json::from_str(&l).unwrap();
        let t = v["thread"].as_u64().unwrap() as usize;
        assert_eq!(v["seq"].as_u64(), Some(next[t]), "thread {t}");
        next[t] += 1;
    }
}

#[tokio::test]
async fn an_unserialisable_record_is_refused() {
    let dir = TempDir::new("serialize");
    let log = EventLog::start(dir.path(), &config(Fsync::Never, 16)).unwrap();
    // JSON object keys must be strings.
    let bad: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    assert!(!log.append(&bad));
    assert!(!log.append_durable(&bad).await);
    log.close().await;
    assert_eq!(dir.lines(), Vec::<String>::new());
}

#[tokio::test]
async fn metrics_are_exported() {
    let handle = crate::telemetry::metrics();
    let dir = TempDir::new("metrics");
    let log = EventLog::start(dir.path(), &config(Fsync::Interval, 16)).unwrap();
    assert!(log.append_durable(&record(0)).await);
    log.close().await;
    assert!(!log.append(&record(1)));
    let text = handle.render();
    for name in [
        "bidgate_event_log_records_total",
        "bidgate_event_log_lost_total{reason=\"closed\"}",
        "bidgate_event_log_queue_depth",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn config_defaults_and_names() {
    let default: EventLogConfig = toml::from_str("").unwrap();
    assert_eq!(default, EventLogConfig::default());
    assert_eq!(default.dir, None);
    assert_eq!(default.fsync, Fsync::Interval);
    assert_eq!(default.fsync_interval_ms, 1000);
    assert_eq!(default.queue_capacity, 65_536);
    assert_eq!(default.sample_auctions, 1.0);

    let cfg: EventLogConfig =
        toml::from_str("dir = \"/var/lib/bidgate/events\"\nfsync = \"always\"").unwrap();
    assert_eq!(
        cfg.dir.as_deref(),
        Some(Path::new("/var/lib/bidgate/events"))
    );
    assert_eq!(cfg.fsync, Fsync::Always);
    assert_eq!(
        toml::from_str::<EventLogConfig>("fsync = \"never\"")
            .unwrap()
            .fsync,
        Fsync::Never
    );
    assert!(toml::from_str::<EventLogConfig>("fsync = \"sometimes\"").is_err());
    // Round trip; an unset dir is left out rather than written as something.
    let text = toml::to_string(&default).unwrap();
    assert!(!text.contains("dir"), "{text}");
    assert_eq!(toml::from_str::<EventLogConfig>(&text).unwrap(), default);

    let schema = serde_json::to_value(schemars::schema_for!(EventLogConfig)).unwrap();
    assert_eq!(schema["additionalProperties"], json!(false));
}
