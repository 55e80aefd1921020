//! Fan-out: one concurrent call per partner, each bounded by its own deadline.
//!
//! All partner futures are polled inside the request's own task, so when the request
//! finishes (or is dropped because the client went away) every call still in flight is
//! dropped with it: nothing is left running in the background, nothing waits past the
//! deadline. The fan-out closes when every partner has answered or its deadline has passed.

use crate::breaker::Admit;
use crate::deadline::{Deadline, partner_budget};
use crate::gateway::Gateway;
use crate::openrtb::BidRequest;
use crate::partners::{self, Cut, Outcome, Partner, Skip};
use crate::telemetry;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

/// One partner's result. The fan-out returns them in arrival order (ties go to the earlier).
#[derive(Debug)]
pub struct Called {
    /// Index into `Gateway::partners`.
    pub partner: usize,
    pub outcome: Outcome,
    /// From sending the request to the outcome (or to giving up).
    pub elapsed: Duration,
}

/// Which partners may bid on which imp: per imp, the allowed partners (indices into
/// `Gateway::partners`), `None` = all. An empty `Eligible` means every partner, every imp.
pub type Eligible = [Option<Vec<usize>>];

/// Calls every enabled partner with `request`, whose `tmax` is set per partner. A partner
/// sees only the imps it may bid on (`eligible`), and is not called when that is none.
pub async fn run(
    gw: &Gateway,
    request: &mut BidRequest,
    deadline: &Deadline,
    eligible: &Eligible,
) -> Vec<Called> {
    let cfg = &gw.config.auction;
    let now = Instant::now();
    let mut results = Vec::with_capacity(gw.partners.len());
    let mut pending = FuturesUnordered::new();
    // Partners told the same tmax, offered the same imps and under the same privacy
    // decision share one serialised body.
    let mut bodies: Vec<(u64, Vec<bool>, bool, Bytes)> = Vec::new();
    // The request's privacy signals, read once; per partner, its consent decides whether it
    // gets personal identifiers (`privacy::strip`) — nothing leaves before this is applied.
    let signals = crate::privacy::Signals::of(&request.rest);
    let quiet = signals.nothing_to_do();

    // The usual case, no placement restricts its partners: no per-partner imp masks at all.
    let restricted = eligible.iter().any(Option::is_some);
    for (i, partner) in gw.partners.iter().enumerate() {
        // Empty = every imp.
        let imps = if restricted {
            offered(eligible, i, request.imp.len())
        } else {
            Vec::new()
        };
        if restricted && imps.iter().all(|offered| !offered) {
            continue;
        }
        let skipped = |skip| Called {
            partner: i,
            outcome: Outcome::Throttled(skip),
            elapsed: Duration::ZERO,
        };
        let Some(budget) = partner_budget(now, deadline, partner.timeout_ms, cfg) else {
            results.push(skipped(Skip::NoTime));
            continue;
        };
        let admit = partner.breaker.admit(now, fastrand::f64());
        match admit {
            Admit::No => {
                results.push(skipped(Skip::CircuitOpen));
                continue;
            }
            Admit::Probe { first: true } => {
                telemetry::breaker_transition(partner.id.as_str(), &partner.breaker.state());
            }
            Admit::Yes | Admit::Probe { first: false } => {}
        }
        let probe = matches!(admit, Admit::Probe { .. });
        // The partner's contract caps its QPS: never exceed it, skip instead.
        if !partner.within_qps() {
            if probe {
                partner.breaker.release_probe();
            }
            results.push(skipped(Skip::Qps));
            continue;
        }
        // Internal demand decides in-process, in microseconds: no request, no wait. It is
        // the publisher's own demand, so the per-vendor privacy rules below do not apply
        // (`/v1/ads` has already removed what the listener did not consent to).
        if let Some(direct) = &partner.direct {
            let started = Instant::now();
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            request.tmax = Some(budget.tmax_ms as i64);
            let outcome = crate::direct::answer(direct, request, &imps, now_unix, &cfg.currency);
            results.push(Called {
                partner: i,
                outcome,
                elapsed: started.elapsed(),
            });
            continue;
        }
        let strip = match (quiet, signals.decide(partner.vendor_id)) {
            (true, _) | (_, crate::privacy::Decision::Allow) => false,
            (false, crate::privacy::Decision::Strip(reason)) => {
                metrics::counter!("bidgate_privacy_stripped_total", "partner" => partner.id.to_string(), "reason" => reason.as_str())
                    .increment(1);
                true
            }
        };
        let bytes = match bodies
            .iter()
            .find(|(t, m, s, _)| *t == budget.tmax_ms && *m == imps && *s == strip)
        {
            Some((_, _, _, b)) => b.clone(),
            None => {
                request.tmax = Some(budget.tmax_ms as i64);
                let b = body(request, &imps, strip);
                bodies.push((budget.tmax_ms, imps, strip, b.clone()));
                b
            }
        };
        let span = tracing::info_span!("partner", partner = %partner.id);
        pending.push(Instrument::instrument(
            async move {
                let started = Instant::now();
                let outcome = timeout_at(budget.wait_until, partners::call(partner, bytes))
                    .await
                    .unwrap_or(Outcome::Timeout(if budget.own_timeout {
                        Cut::OwnTimeout
                    } else {
                        Cut::Deadline
                    }));
                let fair = partner.breaker.timeout_is_failure(
                    budget.wait_until.saturating_duration_since(started),
                    budget.own_timeout,
                );
                record_breaker(partner, &outcome, fair, probe);
                Called {
                    partner: i,
                    outcome,
                    elapsed: started.elapsed(),
                }
            },
            span,
        ));
    }
    while let Some(called) = pending.next().await {
        results.push(called);
    }
    results
}

/// Which imps partner `p` is offered.
fn offered(eligible: &Eligible, p: usize, imps: usize) -> Vec<bool> {
    (0..imps)
        .map(|i| match eligible.get(i) {
            Some(Some(allowed)) => allowed.contains(&p),
            _ => true,
        })
        .collect()
}

/// The serialised request with only the offered imps (`imps` empty: all of them), and
/// without personal identifiers when `strip`.
fn body(request: &BidRequest, imps: &[bool], strip: bool) -> Bytes {
    // Serialising maps with string keys and finite numbers cannot fail.
    if imps.iter().all(|x| *x) && !strip {
        return Bytes::from(serde_json::to_vec(request).expect("BidRequest serialises"));
    }
    let mut rest = request.rest.clone();
    if strip {
        crate::privacy::strip(&mut rest);
    }
    let partial = BidRequest {
        imp: request
            .imp
            .iter()
            .enumerate()
            .filter(|(i, _)| imps.is_empty() || imps[*i])
            .map(|(_, imp)| imp.clone())
            .collect(),
        id: request.id.clone(),
        tmax: request.tmax,
        at: request.at,
        cur: request.cur.clone(),
        rest,
    };
    Bytes::from(serde_json::to_vec(&partial).expect("BidRequest serialises"))
}

/// A timeout counts against the partner only when the wait was fair to it (see
/// `Breaker::timeout_is_failure`); otherwise it is neither a success nor a failure.
fn record_breaker(partner: &Partner, outcome: &Outcome, fair_wait: bool, probe: bool) {
    let success = match outcome.breaker_success() {
        Some(_) if matches!(outcome, Outcome::Timeout(_)) && !fair_wait => None,
        s => s,
    };
    let Some(success) = success else {
        if probe {
            partner.breaker.release_probe();
        }
        return;
    };
    if let Some(state) = partner.breaker.record(Instant::now(), success) {
        telemetry::breaker_transition(partner.id.as_str(), &state);
        let name = crate::breaker::state_name(&state);
        if matches!(state, crate::breaker::State::Open { .. }) {
            tracing::warn!(partner = %partner.id, "circuit breaker opened after repeated failures");
        } else {
            tracing::info!(partner = %partner.id, state = name, "circuit breaker changed state");
        }
    }
}
