//! The `bidgate` binary's command line, run as a child process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs `bidgate <args>` from the project root, with no `BIDGATE_*` overrides inherited from
/// the environment the tests run in (`load_file` reads the process environment).
fn bidgate(args: &[&str]) -> Output {
    bidgate_with_env(args, &[])
}

/// Like `bidgate`, with the given environment variables set for the child only.
fn bidgate_with_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bidgate"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BIDGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run bidgate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory under the system temp dir, unique to this test run, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "bidgate-cli-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn check_config_accepts_the_demo_config() {
    let out = bidgate(&["check-config", "config/demo.toml"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("config/demo.toml"), "stdout: {stdout}");
    assert!(stdout.contains("ok"), "stdout: {stdout}");
    assert!(stdout.contains("3 partners"), "stdout: {stdout}");
}

#[test]
fn check_config_accepts_the_example_config() {
    let out = bidgate(&["check-config", "config/example.toml"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("ok (2 partners)"), "stdout: {stdout}");
}

#[test]
fn check_config_reports_every_problem_with_its_key_path() {
    let dir = TempDir::new("problems");
    let path = dir.write(
        "bad.toml",
        r#"
[auction]
currency = "usd"
typo = 1

[[partners]]
id = "a"
endpoint = "https://a.example/bid"
timeout_ms = 0
"#,
    );
    let out = bidgate(&["check-config", arg(&path)]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    for key in ["auction.currency", "auction.typo", "partners[0].timeout_ms"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("{}: {key}: ", path.display()))),
            "stderr names `{key}` after the file name:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("3 problem(s)"),
        "count in stderr:\n{stderr}"
    );
    assert!(!stdout.contains("ok"), "stdout: {stdout}");
}

#[test]
fn check_config_reports_a_syntax_error() {
    let dir = TempDir::new("syntax");
    let path = dir.write("broken.toml", "[server]\nworkers = = 4\n");
    let out = bidgate(&["check-config", arg(&path)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("line 2"), "stderr: {stderr}");
    assert!(stderr.contains("1 problem(s)"), "stderr: {stderr}");
}

#[test]
fn check_config_applies_env_overrides() {
    let out = bidgate_with_env(
        &["check-config", "config/demo.toml"],
        &[("BIDGATE_AUCTION__DEFAULT_TMAX_MS", "5000")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("auction.default_tmax_ms"),
        "stderr: {stderr}"
    );
}

#[test]
fn check_config_of_a_missing_file_fails() {
    let out = bidgate(&["check-config", "/nonexistent.toml"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stderr.contains("/nonexistent.toml"), "stderr: {stderr}");
    assert!(stdout.is_empty(), "stdout: {stdout}");
}

#[test]
fn an_unrelated_non_utf8_environment_variable_does_not_stop_check_config() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(env!("CARGO_BIN_EXE_bidgate"))
        .args(["check-config", "config/demo.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("JUNK", std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The binary turns off mimalloc's eager arena commit before its first allocation (the RSS
/// figure in loadtest/README.md). mimalloc names its options when verbose, so this also
/// catches an option index that moved with a new mimalloc.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_sets_mimalloc_to_commit_arenas_on_demand() {
    let out = bidgate_with_env(
        &["check-config", "/nonexistent.toml"],
        &[("MIMALLOC_VERBOSE", "1")],
    );
    let err = text(&out.stderr);
    let options: Vec<&str> = err
        .lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with("option '"))
        .collect();
    assert!(
        options.contains(&"option 'arena_eager_commit': 0"),
        "mimalloc's options as the binary runs: {options:?}"
    );
    // And mimalloc reserved its arena only after that: the option was set in time.
    let set = err.find("option 'arena_eager_commit'").unwrap();
    let reserved = err
        .find("reserved ")
        .expect("mimalloc reports its arena reservation");
    assert!(set < reserved, "{err}");
}

/// `bidgate serve` grows its file descriptor table before it starts threads (main.rs,
/// `reserve_fd_table`): grown later, each doubling blocked the worker in `socket()` for an
/// RCU grace period (8–28 ms, loadtest/README.md). The kernel shows the table's size as
/// `FDSize`; without the reservation it is 256 here (64 at start, doubled as opened).
#[cfg(target_os = "linux")]
#[test]
fn serve_starts_with_its_fd_table_grown() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // The child inherits this limit; the table can only be grown below it.
    let wanted = limit.rlim_cur.min(16_384);
    let file = crate::helpers::ConfigFile::new("fd-table", "[server]\nlisten = \"127.0.0.1:0\"\n");
    let (mut child, _app) = crate::helpers::serve_binary(&file);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()));
    let _ = child.kill();
    let _ = child.wait();
    let status = status.expect("the child's /proc status");
    let size: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))
        .expect("FDSize in /proc/PID/status")
        .trim()
        .parse()
        .unwrap();
    assert!(
        size >= wanted,
        "FDSize {size}, wanted at least {wanted} (RLIMIT_NOFILE {})",
        limit.rlim_cur
    );
}
