//! Servers under test, each its own process: bidgate (the release binary) and the baseline
//! proxy (this binary's `baseline` subcommand), so that their CPU time and memory can be read
//! from /proc and neither shares a runtime with the load generator.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map_or(here.clone(), PathBuf::from)
}

/// Builds `target/release/bidgate` (a no-op when it is up to date).
pub fn build_release() -> std::io::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "bidgate", "--bin", "bidgate"])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(
            "cargo build --release -p bidgate failed",
        ));
    }
    Ok(workspace_root().join("target/release/bidgate"))
}

pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
}

impl Gateway {
    /// Starts `bidgate serve` with the given config text; returns once it listens.
    pub fn start(binary: &PathBuf, config: &str, name: &str) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "bidgate-loadtest-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, config)?;
        let mut cmd = Command::new(binary);
        cmd.args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn");
        Self::spawn(cmd)
    }

    /// Starts the baseline proxy (this very binary) in front of `partners`.
    pub fn start_baseline(partners: &[SocketAddr], wait_ms: u64) -> std::io::Result<Self> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["baseline", "--listen", "127.0.0.1:0", "--wait-ms"])
            .arg(wait_ms.to_string())
            .args(partners.iter().map(|a| format!("http://{a}/bid")));
        Self::spawn(cmd)
    }

    /// Runs `cmd`, whose first stdout line ends with `http://ADDR`.
    fn spawn(mut cmd: Command) -> std::io::Result<Self> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| {
                std::io::Error::other(format!("unexpected first line from the server: {line:?}"))
            })?;
        Ok(Self { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    /// Peak resident memory in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Starts `perf record` (call graphs, cpu-clock sampling) on `pid` for `secs` seconds.
pub fn perf_record(pid: u32, secs: u64) -> std::io::Result<(Child, PathBuf)> {
    let data = std::env::temp_dir().join(format!("bidgate-{pid}.perf.data"));
    let child = Command::new("perf")
        .args(["record", "-F", "499", "-g", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string(), "--", "sleep", &secs.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((child, data))
}

/// Waits for the recording and returns the top of `perf report` (self time, by symbol).
pub fn perf_report((mut child, data): (Child, PathBuf)) -> std::io::Result<String> {
    child.wait()?;
    let out = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "symbol",
            "--percent-limit",
            "1.5",
            "-g",
            "none",
            "-i",
        ])
        .arg(&data)
        .output()?;
    // perf pads the symbol column to its widest entry: keep the rows, one space apart.
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.trim_start().starts_with(|c: char| c.is_ascii_digit()) || l.starts_with("# Samples")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect())
}
