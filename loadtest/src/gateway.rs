//! Servers under test, each its own process: bidgate (the release binary) and the baseline
//! proxy (this binary's `baseline` subcommand), so that their CPU time and memory can be read
//! from /proc and neither shares a runtime with the load generator.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map_or(here.clone(), PathBuf::from)
}

/// Builds `target/release/bidgate` (under `CARGO_TARGET_DIR` when set; a no-op when it is
/// up to date).
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
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    Ok(target.join("release/bidgate"))
}

/// The bidgate binary to measure: `path` as given (an older build, say, for a before/after
/// comparison), or else this workspace's `target/release/bidgate`, built first.
pub fn bidgate_binary(path: Option<&Path>) -> std::io::Result<PathBuf> {
    match path {
        Some(p) => {
            let p = p
                .canonicalize()
                .map_err(|e| std::io::Error::other(format!("--bidgate {}: {e}", p.display())))?;
            if !p.is_file() {
                return Err(std::io::Error::other(format!(
                    "--bidgate {}: not a file",
                    p.display()
                )));
            }
            Ok(p)
        }
        None => build_release(),
    }
}

/// What to record about the binary: its path, `--version` and modification time.
pub fn describe_binary(path: &Path) -> serde_json::Value {
    let version = Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    serde_json::json!({"path": path.display().to_string(), "version": version, "modified_unix": modified})
}

pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    /// bidgate has `/metrics`; the baseline has not (it proxies whatever comes in).
    pub is_bidgate: bool,
}

impl Gateway {
    /// Starts `bidgate serve` with the given config text; returns once it listens.
    pub fn start(binary: &Path, config: &str, name: &str) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "bidgate-loadtest-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, config)?;
        let mut cmd = Command::new(binary);
        cmd.args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn");
        Self::spawn(cmd, true)
    }

    /// Starts the baseline proxy (this very binary) in front of `partners`.
    pub fn start_baseline(partners: &[SocketAddr], wait_ms: u64) -> std::io::Result<Self> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["baseline", "--listen", "127.0.0.1:0", "--wait-ms"])
            .arg(wait_ms.to_string())
            .args(partners.iter().map(|a| format!("http://{a}/bid")));
        Self::spawn(cmd, false)
    }

    /// Runs `cmd`, whose first stdout line ends with `http://ADDR`.
    fn spawn(mut cmd: Command, is_bidgate: bool) -> std::io::Result<Self> {
        if let Some(cpus) = crate::pin::server_cpus() {
            crate::pin::pin_child(&mut cmd, cpus);
        }
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
        Ok(Self {
            child,
            addr,
            is_bidgate,
        })
    }

    /// Polls `/readyz` every 10 ms until it answers 200 or `limit` passes. Returns how long
    /// that took, or `None` with the last status seen (0 = no answer; 404 = an older
    /// bidgate without `/readyz`, which is not waited for).
    pub async fn wait_ready(
        &self,
        client: &reqwest::Client,
        limit: std::time::Duration,
    ) -> Result<std::time::Duration, u16> {
        let t0 = std::time::Instant::now();
        let url = format!("http://{}/readyz", self.addr);
        loop {
            let status = match client
                .get(&url)
                .timeout(std::time::Duration::from_secs(1))
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            if status == 200 {
                return Ok(t0.elapsed());
            }
            if status == 404 || t0.elapsed() >= limit {
                return Err(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
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

/// Starts `perf record` (call graphs by frame pointer, cpu-clock sampling) on `pid` for `secs` seconds.
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

/// Waits for the recording and returns the top of `perf report` (self time, by symbol) and
/// the folded stacks (see [`perf_folded`]; empty if `perf script` fails).
pub fn perf_report((mut child, data): (Child, PathBuf)) -> std::io::Result<(String, String)> {
    child.wait()?;
    let folded = perf_folded(&data).unwrap_or_default();
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
    let report = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.trim_start().starts_with(|c: char| c.is_ascii_digit()) || l.starts_with("# Samples")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    Ok((report, folded))
}

/// `perf script` of the recording, folded into one line per distinct stack
/// (`comm;outermost;…;innermost count`), the input flame graph tools take.
pub fn perf_folded(data: &Path) -> std::io::Result<String> {
    let out = Command::new("perf")
        .args(["script", "-F", "comm,ip,sym", "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()?;
    Ok(fold(&String::from_utf8_lossy(&out.stdout)))
}

/// Folds `perf script` text: a sample is a header line (the command name first) followed by
/// indented frames `address symbol+offset (dso)`, innermost first, and a blank line.
fn fold(script: &str) -> String {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut stack: Vec<String> = Vec::new();
    let mut comm = String::new();
    let mut flush = |comm: &str, stack: &mut Vec<String>| {
        if !comm.is_empty() {
            let mut line = comm.replace(' ', "_");
            for f in stack.iter().rev() {
                line.push(';');
                line.push_str(f);
            }
            *counts.entry(line).or_default() += 1;
        }
        stack.clear();
    };
    for l in script.lines() {
        if l.trim().is_empty() {
            flush(&comm, &mut stack);
            comm.clear();
        } else if l.starts_with(char::is_whitespace) {
            let frame = l.trim();
            // Drop the address in front and the `(dso)` behind; keep the symbol.
            let frame = frame.split_once(' ').map_or(frame, |(_, rest)| rest);
            let frame = frame.rsplit_once(" (").map_or(frame, |(sym, _)| sym);
            let frame = match frame.rsplit_once("+0x") {
                Some((sym, off)) if off.chars().all(|c| c.is_ascii_hexdigit()) => sym,
                _ => frame,
            };
            stack.push(frame.replace(';', ":"));
        } else {
            flush(&comm, &mut stack);
            comm = l.split_whitespace().next().unwrap_or("?").to_string();
        }
    }
    flush(&comm, &mut stack);
    counts
        .into_iter()
        .map(|(stack, n)| format!("{stack} {n}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_perf_script_stacks() {
        let script = "bidgate 123 [001] 1.0: cpu-clock:\n\
\t    55d4 memcpy+0x1c (/usr/lib/libc.so.6)\n\
\t    55d5 bidgate::auction::run+0x33 (/x/bidgate)\n\
\n\
bidgate 123 [001] 1.1: cpu-clock:\n\
\t    55d4 memcpy+0x10 (/usr/lib/libc.so.6)\n\
\t    55d5 bidgate::auction::run+0x40 (/x/bidgate)\n\
\n\
tokio-rt 124 [000] 1.2: cpu-clock:\n\
\t    ffff [unknown] ([kernel.kallsyms])\n";
        assert_eq!(
            super::fold(script),
            "bidgate;bidgate::auction::run;memcpy 2\ntokio-rt;[unknown] 1\n"
        );
    }
}
