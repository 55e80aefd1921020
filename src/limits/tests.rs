use super::*;

const MS: Duration = Duration::from_millis(1);

/// One interval of ticks with the worker busy all along.
fn interval(a: &mut Aimd, lag: Duration, active: usize) -> usize {
    interval_busy(a, lag, active, 1.0)
}

/// One interval of 5 ms ticks, the worker running `busy` of the time. The clock is
/// synthetic (a base instant plus the ticks so far): the controller is pure.
fn interval_busy(a: &mut Aimd, lag: Duration, active: usize, busy: f64) -> usize {
    (0..INTERVAL_TICKS)
        .map(|_| tick_busy(a, lag, active, busy))
        .last()
        .unwrap()
}

fn tick_busy(a: &mut Aimd, lag: Duration, active: usize, busy: f64) -> usize {
    thread_local! {
        static CLOCK: Cell<(Option<Instant>, Duration, Duration)> =
            const { Cell::new((None, Duration::ZERO, Duration::ZERO)) };
    }
    CLOCK.with(|c| {
        let (base, wall, cpu) = c.get();
        let base = base.unwrap_or_else(Instant::now);
        let (wall, cpu) = (wall + TICK, cpu + TICK.mul_f64(busy));
        c.set((Some(base), wall, cpu));
        a.tick(lag, active, Some(cpu), base + wall)
    })
}

#[test]
fn a_standing_lag_cuts_the_limit_and_a_burst_does_not() {
    let mut a = Aimd::new(64);
    a.configure(3 * MS, 1024);
    // One slow tick in an interval is a burst, not a queue.
    for i in 0..INTERVAL_TICKS {
        tick_busy(&mut a, if i == 3 { 40 * MS } else { MS }, 10, 1.0);
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
fn lag_while_mostly_idle_is_not_ours() {
    // A burst, or the core taken by another process: the worker lagged but ran only
    // half the time. Shedding would refuse traffic it has the capacity for.
    let mut a = Aimd::new(64);
    a.configure(3 * MS, 1024);
    for _ in 0..10 {
        assert_eq!(interval_busy(&mut a, 8 * MS, 20, 0.5), 64);
    }
    // Busy at 90% for a while: its own backlog, cut once the average says so.
    let cut_after = (1..=10)
        .find(|_| interval_busy(&mut a, 8 * MS, 20, 0.9) < 64)
        .expect("cut");
    assert!((3..=8).contains(&cut_after), "after {cut_after} intervals");
    // A surge: fully busy with the lag past twice the target is cut at once.
    let mut b = Aimd::new(64);
    b.configure(3 * MS, 1024);
    interval_busy(&mut b, MS, 20, 0.3);
    assert_eq!(interval_busy(&mut b, 8 * MS, 20, 1.0), 14);
    // Without a CPU clock every standing lag counts, as before the busy test.
    let mut c = Aimd::new(64);
    c.configure(3 * MS, 1024);
    let t = Instant::now();
    let last = (1..=INTERVAL_TICKS)
        .map(|i| c.tick(8 * MS, 20, None, t + TICK * i))
        .last();
    assert_eq!(last, Some(14));
}

#[test]
fn a_bound_limit_grows_through_bursts_while_cpu_is_spare() {
    let mut a = Aimd::new(8);
    a.configure(3 * MS, 100);
    for _ in 0..5 {
        a.admit(100).ok();
        interval_busy(&mut a, 20 * MS, 8, 0.4);
    }
    assert!(a.limit() > 8, "grew to {}", a.limit());
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
