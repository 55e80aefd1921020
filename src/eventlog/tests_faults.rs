//! The event log when things go wrong: a stalled writer, a full disk, a torn file; and
//! rotation, with a clock the test moves.

use super::tests::{TempDir, config, line, record};
use super::*;
use std::fs::OpenOptions;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

/// Generous: only reached when something is broken, never a timing assertion.
const STUCK: Duration = Duration::from_secs(10);

fn clock_at(secs: &Arc<AtomicU64>) -> Clock {
    let secs = secs.clone();
    Box::new(move || SystemTime::UNIX_EPOCH + Duration::from_secs(secs.load(Ordering::SeqCst)))
}

#[tokio::test]
async fn a_full_queue_drops_records_and_never_blocks() {
    let dir = TempDir::new("full");
    let (entered_tx, entered) = mpsc::channel();
    let (gate, gate_rx) = mpsc::channel::<()>();
    let hooks = Hooks {
        clock: Box::new(SystemTime::now),
        // The writer stalls opening its first file until the gate opens (or is dropped).
        open: Box::new(move |path: &Path| {
            let _ = entered_tx.send(());
            let _ = gate_rx.recv();
            writer::open_append(path)
        }),
    };
    let log = EventLog::start_with(dir.path(), &config(Fsync::Interval, 2), hooks).unwrap();
    assert!(log.append(&record(0)));
    // The writer holds record 0 and is stuck: the queue has exactly its 2 slots.
    entered
        .recv_timeout(STUCK)
        .expect("writer never opened a file");

    let (results_tx, results) = mpsc::channel();
    let appender = log.clone();
    std::thread::spawn(move || {
        let accepted: Vec<bool> = (1..=10).map(|seq| appender.append(&record(seq))).collect();
        let _ = results_tx.send(accepted);
    });
    let accepted = results.recv_timeout(STUCK).expect("append blocked");
    assert_eq!(accepted, [[true; 2].as_slice(), &[false; 8]].concat());
    assert_eq!(log.counts().queue_full, 8);

    drop(gate);
    log.close().await;
    assert_eq!(dir.lines(), vec![line(0), line(1), line(2)]);
    assert_eq!(log.counts().written, 3);
}

/// While `broken`, every file is /dev/full: opening works, every write fails with ENOSPC.
fn flaky_disk(broken: &Arc<AtomicBool>, opens: &Arc<AtomicU64>) -> Hooks {
    let (broken, opens) = (broken.clone(), opens.clone());
    Hooks {
        clock: Box::new(SystemTime::now),
        open: Box::new(move |path: &Path| {
            opens.fetch_add(1, Ordering::SeqCst);
            if broken.load(Ordering::SeqCst) {
                OpenOptions::new().write(true).open("/dev/full")
            } else {
                writer::open_append(path)
            }
        }),
    }
}

#[tokio::test]
async fn write_errors_are_counted_and_the_writer_recovers() {
    for mode in [Fsync::Never, Fsync::Always] {
        let dir = TempDir::new("dev-full");
        let (broken, opens) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
        let hooks = flaky_disk(&broken, &opens);
        let log = EventLog::start_with(dir.path(), &config(mode, 16), hooks).unwrap();
        assert!(log.append(&record(0)), "queued: the write fails later");
        assert!(!log.append_durable(&record(1)).await, "{mode:?}");
        assert!(!log.append_durable(&record(2)).await, "{mode:?}");
        assert_eq!(log.counts().write_error, 3, "{mode:?}");
        // Every failed batch dropped its file: the next batch opened it again.
        assert!(opens.load(Ordering::SeqCst) >= 2, "{mode:?}");

        broken.store(false, Ordering::SeqCst);
        assert!(log.append_durable(&record(3)).await, "{mode:?}");
        assert!(log.append(&record(4)));
        log.close().await;
        assert_eq!(dir.lines(), vec![line(3), line(4)], "{mode:?}");
        let counts = log.counts();
        assert_eq!((counts.written, counts.write_error), (2, 3), "{mode:?}");
    }
}

#[tokio::test]
async fn a_new_hour_starts_a_new_file() {
    let dir = TempDir::new("rotate");
    let secs = Arc::new(AtomicU64::new(1_700_000_000)); // 2023-11-14 22:13:20 UTC
    let hooks = Hooks {
        clock: clock_at(&secs),
        open: Box::new(writer::open_append),
    };
    let log = EventLog::start_with(dir.path(), &config(Fsync::Interval, 16), hooks).unwrap();
    assert!(log.append_durable(&record(0)).await);
    assert!(log.append_durable(&record(1)).await);
    secs.fetch_add(3600, Ordering::SeqCst);
    assert!(log.append_durable(&record(2)).await);
    secs.fetch_add(3600, Ordering::SeqCst); // past midnight
    assert!(log.append(&record(3)));
    log.close().await;

    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(
        dir.files(),
        [
            "events-2023-11-14T22.jsonl",
            "events-2023-11-14T23.jsonl",
            "events-2023-11-15T00.jsonl"
        ]
    );
    assert_eq!(
        read("events-2023-11-14T22.jsonl"),
        format!("{}\n{}\n", line(0), line(1))
    );
    assert_eq!(read("events-2023-11-14T23.jsonl"), format!("{}\n", line(2)));
    assert_eq!(read("events-2023-11-15T00.jsonl"), format!("{}\n", line(3)));
}

#[tokio::test]
async fn appending_to_an_existing_file_keeps_it_and_closes_a_torn_line_first() {
    let dir = TempDir::new("torn");
    std::fs::create_dir_all(dir.path()).unwrap();
    let secs = Arc::new(AtomicU64::new(0));
    // A previous run wrote one good line, then crashed halfway through the next.
    let name = "events-1970-01-01T00.jsonl";
    std::fs::write(dir.path().join(name), "{\"ok\":1}\n{\"torn\":").unwrap();
    for seq in 0..2 {
        let hooks = Hooks {
            clock: clock_at(&secs),
            open: Box::new(writer::open_append),
        };
        let log = EventLog::start_with(dir.path(), &config(Fsync::Always, 16), hooks).unwrap();
        assert!(log.append_durable(&record(seq)).await);
        log.close().await;
    }
    let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(
        text,
        format!("{{\"ok\":1}}\n{{\"torn\":\n{}\n{}\n", line(0), line(1))
    );
}

#[tokio::test]
async fn a_removed_directory_is_created_again() {
    let dir = TempDir::new("removed");
    let log = EventLog::start(dir.path(), &config(Fsync::Never, 16)).unwrap();
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert!(log.append_durable(&record(0)).await);
    log.close().await;
    assert_eq!(dir.lines(), vec![line(0)]);
}
