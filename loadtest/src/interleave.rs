//! CPU per request of two servers, measured in alternating slices (A B B A A B B A …).
//!
//! Why: the CPU ratio was two runs (`--run-s`, 10 s), one server after the other, about 20 s
//! apart. On these shared VMs the host's speed moves over minutes: in fifteen runs of nearly
//! the same code each server's own figure moved by ±10% (bidgate 0.324–0.378 ms, the
//! baseline 0.247–0.308 and once 0.434), and the ratio from 0.99 to 1.42. A 5% saving could
//! not be seen in one report. Here both servers run at once (pinned to the same core, the idle one costing
//! nothing), each slice loads one of them, and a slow stretch of the host lands on both in
//! turn; the ABBA order cancels a steady drift as well.

use crate::gateway::Gateway;
use crate::load;
use bytes::Bytes;
use serde::Serialize;
use std::time::Duration;

/// What [`cpu_per_request`] found.
#[derive(Debug, Clone, Serialize)]
pub struct Interleaved {
    /// CPU ms per request over all of A's slices, and over all of B's.
    pub a_ms: f64,
    pub b_ms: f64,
    /// A's CPU per request ÷ B's, per round (one slice of each): the spread of the figure.
    pub round_ratios: Vec<f64>,
    pub slice_s: u64,
    pub rounds: usize,
}

impl Interleaved {
    pub fn ratio(&self) -> f64 {
        self.a_ms / self.b_ms.max(f64::MIN_POSITIVE)
    }
}

/// `rounds` rounds of one slice of `slice_s` seconds at `rate` on each server, A first in
/// even rounds and B first in odd ones. The servers must be warm (a measured run before).
pub async fn cpu_per_request(
    client: &reqwest::Client,
    (a, b): (&Gateway, &Gateway),
    body: &Bytes,
    rate: f64,
    rounds: usize,
    slice_s: u64,
    late_after: Duration,
) -> Interleaved {
    // (CPU seconds, requests sent) per server.
    let mut total = [(0.0, 0u64); 2];
    let mut per_round = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut this = [0.0; 2];
        for which in order {
            let gw = [a, b][which];
            let url = format!("http://{}/openrtb2/auction", gw.addr);
            let cpu0 = gw.cpu_seconds();
            let stats = load::run(
                client,
                &url,
                body.clone(),
                rate,
                Duration::from_secs(slice_s),
                late_after,
            )
            .await;
            let cpu = gw.cpu_seconds() - cpu0;
            total[which].0 += cpu;
            total[which].1 += stats.sent;
            this[which] = cpu * 1000.0 / stats.sent.max(1) as f64;
        }
        per_round.push(this[0] / this[1].max(f64::MIN_POSITIVE));
    }
    let ms = |(cpu, sent): (f64, u64)| cpu * 1000.0 / sent.max(1) as f64;
    Interleaved {
        a_ms: ms(total[0]),
        b_ms: ms(total[1]),
        round_ratios: per_round,
        slice_s,
        rounds,
    }
}
