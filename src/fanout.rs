//! Fan-out: one concurrent call per partner, each bounded by its own deadline.
//!
//! All partner futures are polled inside the request's own task, so when the request
//! finishes (or is dropped because the client went away) every call still in flight is
//! dropped with it: nothing is left running in the background, nothing waits past the
//! deadline. The fan-out closes when every partner has answered or its deadline has passed.

use crate::deadline::{Deadline, partner_budget};
use crate::gateway::Gateway;
use crate::openrtb::BidRequest;
use crate::partners::{self, Outcome};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// One partner's result. The fan-out returns them in arrival order (ties go to the earlier).
#[derive(Debug)]
pub struct Called {
    /// Index into `Gateway::partners`.
    pub partner: usize,
    pub outcome: Outcome,
    /// From sending the request to the outcome (or to giving up).
    pub elapsed: Duration,
}

/// Calls every enabled partner with `request`, whose `tmax` is set per partner.
pub async fn run(gw: &Gateway, request: &mut BidRequest, deadline: &Deadline) -> Vec<Called> {
    let cfg = &gw.config.auction;
    let max_bytes = gw.config.http_client.max_response_bytes;
    let now = Instant::now();
    let mut results = Vec::with_capacity(gw.partners.len());
    let mut pending = FuturesUnordered::new();
    // Partners told the same tmax share one serialised body.
    let mut body: Option<(u64, Bytes)> = None;

    for (i, partner) in gw.partners.iter().enumerate() {
        let Some(budget) = partner_budget(now, deadline, partner.timeout_ms, cfg) else {
            results.push(Called {
                partner: i,
                outcome: Outcome::Throttled("no time left for this partner".into()),
                elapsed: Duration::ZERO,
            });
            continue;
        };
        let bytes = match &body {
            Some((t, b)) if *t == budget.tmax_ms => b.clone(),
            _ => {
                request.tmax = Some(budget.tmax_ms as i64);
                // Serialising maps with string keys and finite numbers cannot fail.
                let b = Bytes::from(serde_json::to_vec(&*request).expect("BidRequest serialises"));
                body = Some((budget.tmax_ms, b.clone()));
                b
            }
        };
        let client = &gw.client;
        pending.push(async move {
            let started = Instant::now();
            let call = partners::call(client, partner, bytes, max_bytes);
            let outcome = timeout_at(budget.wait_until, call)
                .await
                .unwrap_or(Outcome::Timeout);
            Called {
                partner: i,
                outcome,
                elapsed: started.elapsed(),
            }
        });
    }
    while let Some(called) = pending.next().await {
        results.push(called);
    }
    results
}
