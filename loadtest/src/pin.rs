//! CPU pinning for `report`: the server under test (bidgate or the baseline) on cores of
//! its own, the harness (load generator and mock partners) on the others.
//!
//! Why: unpinned on a 2-core machine, the generator, eight mock partners and the server
//! share the run queue. At high load a server thread then waits for a time slice behind
//! the harness, and that wait shows up as the server's latency and as its event-loop lag
//! (which bidgate's admission control reads as its own backlog). A production gateway has
//! its cores to itself; pinning gives both servers that, alike, so that the ratios compare
//! the servers and not the scheduler. `--no-pin` measures the shared way.

use std::process::Command;

/// Which CPUs the server and the harness get.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Split {
    pub server: Vec<usize>,
    pub harness: Vec<usize>,
}

/// Splits the CPUs this process may use: the first half (at least one) for the server, the
/// rest for the harness. `None` with fewer than two CPUs or when the mask cannot be read.
pub fn split() -> Option<Split> {
    let cpus = allowed().ok()?;
    if cpus.len() < 2 {
        return None;
    }
    let half = cpus.len() / 2;
    Some(Split {
        server: cpus[..half].to_vec(),
        harness: cpus[half..].to_vec(),
    })
}

fn allowed() -> std::io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; the size is the set's own.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: CPU_ISSET reads the set within its size.
    Ok((0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Makes `cmd`'s process run on `cpus` (set in the child between fork and exec).
pub fn pin_child(cmd: &mut Command, cpus: &[usize]) {
    use std::os::unix::process::CommandExt;
    let cpus = cpus.to_vec();
    // SAFETY: sched_setaffinity is async-signal-safe; the closure allocates nothing (the set
    // is built on the stack from a vector captured before the fork).
    unsafe {
        cmd.pre_exec(move || set_affinity(&cpus));
    }
}

/// Restricts the calling thread (and every thread it starts from now on) to `cpus`.
fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: see `allowed`; CPU_SET writes within the set for c < CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; the size is the set's own.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

static SPLIT: std::sync::OnceLock<Split> = std::sync::OnceLock::new();

/// Pins this thread to the harness CPUs and remembers the split for servers started
/// afterwards (`Gateway` pins them with [`server_cpus`]). Returns the split, or `None`
/// when there is nothing to split.
pub fn harness_here() -> std::io::Result<Option<Split>> {
    let Some(split) = split() else {
        return Ok(None);
    };
    // Before the runtime starts its threads, so the whole harness stays on these CPUs.
    set_affinity(&split.harness)?;
    let _ = SPLIT.set(split.clone());
    Ok(Some(split))
}

/// The CPUs servers under test are pinned to (`None`: not pinned).
pub fn server_cpus() -> Option<&'static [usize]> {
    SPLIT.get().map(|s| s.server.as_slice())
}

/// The split in effect, for the report.
pub fn current() -> Option<&'static Split> {
    SPLIT.get()
}

/// Whether the harness's runtime threads got a real-time priority ([`prioritise_here`]).
static PRIORITISED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Gives the calling thread (a thread of the harness's runtime, where the load generator
/// runs) the lowest real-time priority, `SCHED_FIFO` 1, so that it runs as soon as it is
/// ready instead of waiting behind the mock partners on the harness core.
///
/// Why: at twice a gateway's saturation the partners answer ~20,000 calls a second on the
/// core the generator shares with them, and the generator then saw answers up to 11 ms late
/// (its loop lag): the overload's slowest 503 by the client's clock measured the harness,
/// while bidgate's own clock had every 503 within 10 ms. A nicer fleet (5, 10) did not
/// remove it: the fair scheduler still lets a running partner finish its slice. Real clients
/// run on machines of their own. `SCHED_RESET_ON_FORK`: the threads and processes started
/// from here (the fleet's actix worker, the servers under test) start with the normal
/// policy, and the kernel keeps 5% of each second for them whatever the generator does.
/// Needs `CAP_SYS_NICE` (root); without it the harness runs as before and the report says so.
pub fn prioritise_here() {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc == 0 {
        PRIORITISED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether [`prioritise_here`] succeeded on at least one harness thread.
pub fn prioritised() -> bool {
    PRIORITISED.load(std::sync::atomic::Ordering::Relaxed)
}
