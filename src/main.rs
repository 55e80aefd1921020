//! The `bidgate` command line: serve, demo, check-config, whatif. All logic lives in the
//! library.

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: an auction allocates and frees thousands of small
/// JSON values across two threads' worth of workers, where glibc spent ~15% of the CPU
/// (loadtest `report --perf`); see loadtest/README.md for the measurement.
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "bidgate", version, about = "An OpenRTB 2.6 exchange gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway from a config file (the production entry point).
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the gateway with three simulated demand partners on loopback, and print a curl line.
    Demo,
    /// Validate a config file and print every problem with its key path (exit 1 when invalid).
    CheckConfig { path: PathBuf },
    /// Re-run the auctions recorded with `event_log.record_bids` under other settings (tmax,
    /// partner timeouts, pricing, floor) and print revenue, fill and latency per setting.
    Whatif(bidgate::whatif::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { path } => match bidgate::config::load_file(&path) {
            Ok(c) => {
                // The direct demand catalog is part of what a reload would refuse.
                if let Some(catalog) = &c.internal.catalog
                    && let Err(problems) = bidgate::internal::Catalog::load_file(catalog)
                {
                    for p in &problems {
                        eprintln!("{}: {p}", catalog.display());
                    }
                    eprintln!("{}: {} problem(s)", catalog.display(), problems.len());
                    return ExitCode::FAILURE;
                }
                for note in bidgate::config::advice(&c) {
                    eprintln!("{}: note: {note}", path.display());
                }
                println!("{}: ok ({} partners)", path.display(), c.partners.len());
                ExitCode::SUCCESS
            }
            Err(problems) => {
                for p in &problems {
                    eprintln!("{}: {p}", path.display());
                }
                eprintln!("{}: {} problem(s)", path.display(), problems.len());
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => run(async move {
            let app = match bidgate::build_from_file(&config) {
                Ok(app) => app,
                Err(problems) => {
                    for p in &problems {
                        eprintln!("{}: {p}", config.display());
                    }
                    return Err(std::io::Error::other("invalid config"));
                }
            };
            bidgate::telemetry::init_logging(&app.config().log);
            // On stdout, plainly: scripts and tests read the bound address from here.
            println!("bidgate listening on http://{}", app.addr());
            app.run().await?;
            tracing::info!("bidgate stopped");
            Ok(())
        }),
        Command::Whatif(options) => match bidgate::whatif::run(&options) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bidgate whatif: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Demo => {
            bidgate::telemetry::init_logging(&Default::default());
            run(bidgate::demo::run())
        }
    }
}

fn run(fut: impl std::future::Future<Output = std::io::Result<()>>) -> ExitCode {
    // Before the runtime starts its threads: see `reserve_fd_table`.
    reserve_fd_table();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bidgate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The file descriptors the process's table is grown to at start (or the soft
/// `RLIMIT_NOFILE`, when lower): a partner connection per auction and partner (8,192 at the
/// default `max_in_flight` and eight partners) plus the clients' connections.
const FD_TABLE: u64 = 16_384;

/// Grows the kernel's file descriptor table to `FD_TABLE` slots now, while the process has
/// one thread. Why: the table starts at 64 slots and doubles as sockets are opened, and in a
/// process with more than one thread each doubling waits inside `socket()` for an RCU grace
/// period (`expand_files` → `synchronize_rcu`). That blocked the worker 8–28 ms at a time at
/// the start of a load, every request on it waiting too: the slowest 503s of an overload
/// (`perf record -e sched:sched_switch -g`, loadtest/README.md). With one thread the kernel
/// swaps tables without waiting, and a table never shrinks. Best effort: a failure only
/// leaves the growth for later.
fn reserve_fd_table() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let Ok(last) = libc::c_int::try_from(limit.rlim_cur.min(FD_TABLE).saturating_sub(1)) else {
        return;
    };
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return;
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&null);
    if last <= fd {
        return;
    }
    // SAFETY: duplicating a descriptor we own onto a number the process does not use yet
    // (one thread, nothing opened that high), then closing that duplicate.
    unsafe {
        if libc::fcntl(last, libc::F_GETFD) == -1 && libc::dup2(fd, last) == last {
            libc::close(last);
        }
    }
}

/// mimalloc's C functions, called the way std calls the system `malloc`: the plain ones
/// when the alignment asked for is one `mi_malloc` gives anyway (16 bytes, or the size for
/// smaller blocks), the `_aligned` ones otherwise. Why not the `mimalloc` crate: it calls
/// `mi_malloc_aligned` for every allocation, ~64 instructions against ~25 on mimalloc's
/// fast path, and an auction makes ~550 allocations (callgrind: 865 k → 850 k instructions
/// per auction).
struct MiMalloc;

/// What `mi_malloc` guarantees (MI_MAX_ALIGN_SIZE on 64-bit targets).
const MI_MAX_ALIGN: usize = 16;

fn plain(align: usize, size: usize) -> bool {
    align <= MI_MAX_ALIGN && align <= size
}

// SAFETY: each method forwards to the mimalloc function with the same contract (a block of
// at least `size` bytes at the alignment asked for, or null; `mi_free` takes any block
// mimalloc gave, aligned or not).
unsafe impl std::alloc::GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_malloc, mi_malloc_aligned};
        let (size, align) = (layout.size(), layout.align());
        unsafe {
            if plain(align, size) {
                mi_malloc(size).cast()
            } else {
                mi_malloc_aligned(size, align).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_zalloc, mi_zalloc_aligned};
        let (size, align) = (layout.size(), layout.align());
        unsafe {
            if plain(align, size) {
                mi_zalloc(size).cast()
            } else {
                mi_zalloc_aligned(size, align).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys::{mi_realloc, mi_realloc_aligned};
        let align = layout.align();
        unsafe {
            if plain(align, new_size) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, align).cast()
            }
        }
    }
}

/// mimalloc commits its arenas up front on Linux, and then purges freed pages with
/// `MADV_FREE`, which leaves them counted in the RSS until the kernel runs short: at 3,000
/// auctions a second the peak RSS was 86–102 MiB with that, 68–81 MiB without it
/// (`MIMALLOC_ARENA_EAGER_COMMIT=0`, the same CPU per auction; loadtest/README.md). Set in
/// code so that no deployment needs the variable, and before `main`: the first allocation
/// reserves the arena, and Rust allocates before `main` runs. mimalloc's own constructor runs
/// first (priority 101) and an explicitly set option is not read from the environment again.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static MIMALLOC_OPTIONS: extern "C" fn() = mimalloc_options;

#[cfg(target_os = "linux")]
extern "C" fn mimalloc_options() {
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    /// `mi_option_arena_eager_commit` in mimalloc v3's `mi_option_e` (libmimalloc-sys 0.1.49,
    /// pinned in Cargo.lock): check the enum again when that crate moves.
    const ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
    // SAFETY: a plain store into mimalloc's option table; no allocation, no Rust runtime.
    unsafe { mi_option_set(ARENA_EAGER_COMMIT, 0) };
}
