use super::*;

const MS: Duration = Duration::from_millis(1);

fn interval(a: &mut Aimd, lag: Duration, active: usize) -> usize {
    (0..INTERVAL_TICKS)
        .map(|_| a.tick(lag, active))
        .last()
        .unwrap()
}

#[test]
fn a_standing_lag_cuts_the_limit_and_a_burst_does_not() {
    let mut a = Aimd::new(64);
    a.configure(3 * MS, 1024);
    // One slow tick in an interval is a burst, not a queue.
    for i in 0..INTERVAL_TICKS {
        a.tick(if i == 3 { 40 * MS } else { MS }, 10);
    }
    assert_eq!(a.limit(), 64);
    assert_eq!(interval(&mut a, 8 * MS, 64), 44);
    assert_eq!(interval(&mut a, 8 * MS, 64), 31);
    for _ in 0..50 {
        interval(&mut a, 8 * MS, 10);
    }
    assert_eq!(a.limit(), MIN_LIMIT, "never below the floor");
}

#[test]
fn a_surge_is_cut_from_what_runs_not_from_an_unused_limit() {
    let mut a = Aimd::new(64);
    a.configure(3 * MS, 1024);
    // 20 running, far below the limit, and the worker falls behind: the first cut
    // already binds.
    assert_eq!(interval(&mut a, 8 * MS, 20), 14);
}

#[test]
fn lag_with_nothing_running_is_not_ours() {
    let mut a = Aimd::new(64);
    a.configure(3 * MS, 1024);
    assert_eq!(interval(&mut a, 20 * MS, 0), 64);
}

#[test]
fn grows_only_while_used_and_keeping_up() {
    let mut a = Aimd::new(8);
    a.configure(3 * MS, 20);
    assert_eq!(interval(&mut a, MS, 2), 8, "not used: stays");
    for active in 0..8 {
        assert!(a.admit(active).is_ok());
    }
    assert_eq!(a.admit(8), Err(8), "the limit binds");
    assert_eq!(interval(&mut a, MS, 8), 9, "used and keeping up: +1");
    for _ in 0..100 {
        a.admit(100).ok();
        interval(&mut a, MS, 20);
    }
    assert_eq!(a.limit(), 20, "capped by max_in_flight");
    a.admit(100).ok();
    assert_eq!(interval(&mut a, 3 * MS, 20), 20, "at the target: hold");
}

/// One interval of ticks, all at `lag` but one tick at `burst`, with the CPU share `busy`.
fn interval_busy(a: &mut Aimd, lag: Duration, burst: Duration, active: usize, busy: f64) -> usize {
    a.admit(active).ok();
    (0..INTERVAL_TICKS)
        .map(|i| a.tick_busy(if i == 2 { burst } else { lag }, active, busy))
        .last()
        .unwrap()
}

#[test]
fn the_cpu_share_lets_the_limit_grow_through_a_burst_and_never_when_full() {
    let mut a = Aimd::new(32);
    a.configure(3 * MS, 1024);
    // A clump of answers makes one tick late: with the CPU half idle the limit grows...
    assert_eq!(interval_busy(&mut a, MS, 9 * MS, 32, 0.5), 34);
    assert_eq!(a.cpu_share(), 0.5, "the interval's mean, for the gauge");
    // ...with the CPU fairly busy, lag alone decides (as `tick`): hold...
    assert_eq!(interval_busy(&mut a, MS, 9 * MS, 34, 0.75), 34);
    assert_eq!(interval_busy(&mut a, MS, MS, 34, 0.75), 36, "no lag: grows");
    // ...and with the CPU busy it never grows, lag or not.
    assert_eq!(interval_busy(&mut a, MS, MS, 36, 0.85), 36);
    // A standing queue cuts whatever the CPU share says.
    assert_eq!(interval_busy(&mut a, 8 * MS, 8 * MS, 36, 0.3), 25);
}

#[test]
fn a_full_cpu_cuts_a_binding_limit_gently_without_any_lag() {
    let mut a = Aimd::new(40);
    a.configure(3 * MS, 1024);
    // The limit binds (40 running) on a full core with no lag at all: ×0.9.
    assert_eq!(interval_busy(&mut a, MS, MS, 40, 0.95), 36);
    assert_eq!(interval_busy(&mut a, MS, MS, 36, 0.95), 32);
    // The same core, the limit not binding (20 running): not the limit's doing, kept.
    assert_eq!(interval_busy(&mut a, MS, MS, 20, 0.95), 32);
    // Busy, not full, binding: held, neither grown nor cut.
    assert_eq!(interval_busy(&mut a, MS, MS, 32, 0.85), 32);
    // Never below the floor.
    for _ in 0..100 {
        let running = a.limit();
        interval_busy(&mut a, MS, MS, running, 0.99);
    }
    assert_eq!(a.limit(), MIN_LIMIT);
}

#[test]
fn with_cpu_headroom_the_limit_keeps_a_margin_over_what_runs() {
    let mut a = Aimd::new(32);
    a.configure(3 * MS, 1024);
    // 30 running under a limit of 32 (never reached), the CPU half idle: the limit grows
    // until it is a quarter above what runs, then holds.
    for _ in 0..20 {
        interval_busy(&mut a, MS, MS, 30, 0.5);
    }
    assert_eq!(a.limit(), 38, "30 × 1.25 = 37.5, passed by one step");
    // A burst of 37 now finds room.
    for active in 30..37 {
        assert!(a.admit(active).is_ok());
    }
    // Busier: no margin, the limit grows only where it binds (here it does not).
    let mut b = Aimd::new(32);
    b.configure(3 * MS, 1024);
    assert_eq!(interval_busy(&mut b, MS, MS, 30, 0.75), 32);
    // Few running: no reason to grow.
    let mut c = Aimd::new(32);
    c.configure(3 * MS, 1024);
    assert_eq!(interval_busy(&mut c, MS, MS, 10, 0.3), 32);
}

#[test]
fn admission_counts_slots_per_worker() {
    let target = 3 * MS;
    let before = ACTIVE.with(Cell::get);
    let a = admit_local(target, 0).unwrap();
    let b = admit_local(target, 0).unwrap();
    assert_eq!(ACTIVE.with(Cell::get), before + 2);
    drop((a, b));
    assert_eq!(ACTIVE.with(Cell::get), before);
    ADMISSION.with(|a| *a.borrow_mut() = Aimd::new(2));
    let held: Vec<_> = (0..2).map(|_| admit_local(target, 0).unwrap()).collect();
    assert_eq!(admit_local(target, 0).err(), Some(Shed::Adaptive(2)));
    assert!(
        admit_local(Duration::ZERO, 0).is_ok(),
        "target 0 turns it off"
    );
    drop(held);
    ADMISSION.with(|a| *a.borrow_mut() = Aimd::new(INITIAL_LIMIT));
}

#[test]
fn the_lag_peak_holds_the_worst_recent_lag_and_fades_at_10_ms_a_second() {
    // Timer grain (1 ms) is not lag.
    assert_eq!(peak_for_test(0, MS), 0);
    let mut p = peak_for_test(0, 16 * MS);
    assert_eq!(p, 15_000);
    // A second of on-time ticks (200 of 5 ms) takes 10 ms off.
    for _ in 0..200 {
        p = peak_for_test(p, Duration::ZERO);
    }
    assert_eq!(p, 5_000);
    // A worse lag replaces it at once.
    assert_eq!(peak_for_test(p, 30 * MS), 29_000);
}

/// The order one turn of a worker's loop serves a parse and a socket that just became
/// readable, with the worker `lag` behind: what `yield_if_behind` is for.
fn served_order(lag: Duration) -> Vec<&'static str> {
    use std::cell::RefCell;
    use std::rc::Rc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        set_worker_lag_for_test(lag);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let order = Rc::new(RefCell::new(Vec::new()));
        let (answer_in, answer) = tokio::sync::oneshot::channel::<()>();
        let o = order.clone();
        let reader = tokio::task::spawn_local(async move {
            let mut byte = [0u8; 1];
            server.read_exact(&mut byte).await.unwrap();
            o.borrow_mut().push("new request read");
        });
        let o = order.clone();
        let parser = tokio::task::spawn_local(async move {
            answer.await.unwrap();
            yield_if_behind().await;
            o.borrow_mut().push("answer parsed");
        });
        // Both tasks wait: the reader on its socket, the parser on its answer.
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A request arrives, and in the same turn an answer is ready to be parsed.
        client.write_all(b"x").await.unwrap();
        answer_in.send(()).unwrap();
        reader.await.unwrap();
        parser.await.unwrap();
        set_worker_lag_for_test(Duration::ZERO);
        order.take()
    })
}

#[test]
fn a_worker_behind_reads_new_requests_before_it_parses_an_answer() {
    assert_eq!(served_order(30 * MS), ["new request read", "answer parsed"]);
    // On time, nothing is deferred: the answer already woken is parsed first.
    assert_eq!(
        served_order(Duration::ZERO),
        ["answer parsed", "new request read"]
    );
}
