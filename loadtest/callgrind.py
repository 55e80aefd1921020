#!/usr/bin/env python3
"""Instructions per auction, bidgate against the bare fan-out baseline, under callgrind.

Why: CPU time on a shared 2-core machine varies by ±20% from run to run, so a 5% saving
cannot be seen in `loadtest report`. Callgrind counts user-space instructions, which are
the same for the same binary and inputs whatever else the machine is doing. Kernel time
(sockets, epoll) is not counted: it is about the same for both servers, which make the
same calls to the same partners; `report` still gives the real CPU ratio.

Both servers run under callgrind in front of the same 8 mock partners (`loadtest fleet`,
the realistic answers: ~4 KB VAST + ~3.4 KB display bid each, fixed 20 ms). Requests are
sent one at a time over one keep-alive connection with a long tmax, so nothing times out
under valgrind's slowdown. After a warm-up, the counters are zeroed, N requests are sent,
and the counters dumped: instructions / N.

    cargo build --release -p bidgate -p loadtest
    python3 loadtest/callgrind.py            # 300 measured auctions each
    python3 loadtest/callgrind.py --n 100 --keep   # keep the callgrind.out files
                                                   # (callgrind_annotate FILE | head -60)

CG_EXTRA is appended to bidgate's config after its [server] and [auction] tables, to price
one setting, e.g. the connect bound:
    CG_EXTRA=$'[http_client]\nmax_connecting = 0\n\n' python3 loadtest/callgrind.py --n 100
"""

import argparse
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
LOADTEST = os.path.join(TARGET, "release", "loadtest")
TMAX = 5000


def first_line_addr(proc):
    line = proc.stdout.readline().decode()
    m = re.search(r"http://([0-9.]+:[0-9]+)", line)
    if not m:
        sys.exit(f"unexpected first line: {line!r}")
    return m.group(1)


def post(conn, body):
    conn.request("POST", "/openrtb2/auction", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def measure(name, cmd, n, warm, keep, outdir):
    out = os.path.join(outdir, f"callgrind.out.{name}")
    # Uncompressed names: each dump (the measured part after `zero`) reads on its own.
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no",
          "--compress-strings=no"]
    proc = subprocess.Popen(vg + cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        addr = first_line_addr(proc)
        host, port = addr.split(":")
        body = subprocess.check_output([LOADTEST, "request", "--tmax-ms", str(TMAX)])
        deadline = time.time() + 120
        while True:  # ready: the first auction that gets an answer with bids
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                if post(conn, body) == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit(f"{name}: no 200 within 120 s")
            time.sleep(0.5)
        statuses = {}
        for _ in range(warm):
            s = post(conn, body)
            statuses[s] = statuses.get(s, 0) + 1
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        for _ in range(n):
            s = post(conn, body)
            statuses[s] = statuses.get(s, 0) + 1
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(1)
    finally:
        proc.terminate()
        proc.wait()
    total = 0
    for f in os.listdir(outdir):
        if f.startswith(f"callgrind.out.{name}") and f != f"callgrind.out.{name}":
            path = os.path.join(outdir, f)
            # Only the dump taken after zeroing (not the one written at exit).
            with open(path) as fh:
                text = fh.read()
            if "Trigger: dump" not in text and "Trigger: Client Request" not in text:
                continue
            m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
            total += int(m.group(1))
    if not keep:
        for f in os.listdir(outdir):
            if f.startswith(f"callgrind.out.{name}"):
                os.remove(os.path.join(outdir, f))
    per = total / n
    print(f"{name:9} {per / 1e6:8.3f} M instructions per auction  (statuses {statuses})")
    return per


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="measured auctions per server")
    ap.add_argument("--warm", type=int, default=50, help="warm-up auctions per server")
    ap.add_argument("--bidgate", default=os.path.join(TARGET, "release", "bidgate"))
    ap.add_argument("--only", choices=["bidgate", "baseline"])
    ap.add_argument("--keep", action="store_true", help="keep the callgrind.out files")
    a = ap.parse_args()
    outdir = os.getcwd() if a.keep else tempfile.mkdtemp(prefix="bidgate-callgrind-")
    fleet = subprocess.Popen(
        [LOADTEST, "fleet", "--partners", "8", "--latency", "fixed:20",
         "--adm-bytes", "4096", "--banner-adm-bytes", "3450"],
        stdout=subprocess.PIPE)
    try:
        urls = [fleet.stdout.readline().decode().strip() for _ in range(8)]
        cfg = os.path.join(outdir, "bidgate-callgrind.toml")
        with open(cfg, "w") as f:
            # Lag and admission checks off: under valgrind every worker "lags".
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\nmax_worker_lag_ms = 0\n'
                    'target_worker_lag_ms = 0\n\n[auction]\npricing = "second_price"\n'
                    f'max_tmax_ms = {TMAX}\n\n' + os.environ.get('CG_EXTRA', ''))
            for i, u in enumerate(urls):
                f.write(f'[[partners]]\nid = "p{i}"\nendpoint = "{u}"\ntimeout_ms = {TMAX - 500}\n\n')
        res = {}
        if a.only != "baseline":
            res["bidgate"] = measure("bidgate", [a.bidgate, "serve", "--config", cfg],
                                     a.n, a.warm, a.keep, outdir)
        if a.only != "bidgate":
            res["baseline"] = measure("baseline", [LOADTEST, "baseline", "--wait-ms", str(TMAX - 5)] + urls,
                                      a.n, a.warm, a.keep, outdir)
        if len(res) == 2:
            print(f"ratio     {res['bidgate'] / res['baseline']:8.2f}")
    finally:
        fleet.terminate()
        fleet.wait()


if __name__ == "__main__":
    main()
