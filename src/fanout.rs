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
use crate::outbound;
use crate::partners::{self, Booked, Call, Cut, HttpCall, Outcome, Partner, PartnerIx, Skip};
use crate::privacy::{Decision, Reasons};
use crate::telemetry;
use crate::vocab::Listener;
use crate::waits::{self, Waits};
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
    pub partner: PartnerIx,
    pub outcome: Outcome,
    /// From sending the request to the outcome (or to giving up).
    pub elapsed: Duration,
    /// Direct demand's bookings of its bids (what the auction ranks them by); empty for
    /// HTTP partners.
    pub booked: Booked,
    /// With debug output asked for, an HTTP partner's call as sent and answered
    /// (`ext.debug.httpcalls`); always `None` otherwise.
    pub debug: Option<Box<HttpCall>>,
}

/// Which partners may bid on which imp: per imp, the allowed partners (indices into
/// `Gateway::partners`), `None` = all. An empty `Eligible` means every partner, every imp.
pub type Eligible = [Option<Vec<PartnerIx>>];

/// Calls every enabled partner with `request`, whose `tmax` is set per partner. A partner
/// sees only the imps it may bid on (`eligible`), and is not called when that is none.
/// `listener`: the client's typed targeting values, where it gave them (for direct demand).
/// `debug`: keep each HTTP partner's body and answer (`Called::debug`); off, nothing is kept.
pub async fn run(
    gw: &Gateway,
    request: &mut BidRequest,
    deadline: &Deadline,
    eligible: &Eligible,
    listener: Option<&Listener>,
    debug: bool,
) -> Vec<Called> {
    let cfg = &gw.config.auction;
    let now = Instant::now();
    let mut results = Vec::with_capacity(gw.partners.len());
    let mut pending = FuturesUnordered::new();
    // bidgate's own node ends the supply chain of everything it forwards.
    outbound::supply_chain(&mut request.rest, &request.id, &gw.config.supply_chain);
    // The request is serialised once per view (the imps offered, the privacy decision,
    // whose params), without `tmax`; each partner's `tmax` is then spliced in front, so
    // partners with different timeouts do not cost a serialisation each (`outbound::Bodies`).
    let mut bodies = outbound::Bodies::default();
    let mut plan = Waits::new(cfg);
    // Debug only: each HTTP partner's body as sent, for calls the close cuts off.
    let mut sent_bodies: Vec<(PartnerIx, Bytes)> = Vec::new();
    request.tmax = None;
    // The request's privacy signals, read once; per partner, its consent decides whether it
    // is called and what personal data it gets (`privacy::strip`) — nothing leaves before
    // this is applied.
    let signals = crate::privacy::Signals::of(&request.rest);
    let quiet = signals.nothing_to_do();
    // Which partners have their own `imp.ext` params (`None`, the usual case: nobody, and
    // `imp.ext` goes out as sent).
    // Disabled partners' keys are partner keys too: their params go to nobody.
    let is_partner = |k: &str| gw.config.partners.iter().any(|p| p.id == k);
    let has_params = outbound::scan_params(
        &request.imp,
        gw.partners.len(),
        |k| gw.partner_index(k).map(|PartnerIx(i)| i),
        is_partner,
    );

    // The usual case, no placement restricts its partners and every partner takes every
    // media type: no per-partner imp masks at all.
    let restricted = eligible.iter().any(Option::is_some);
    let media: Vec<u8> = if gw.partners.iter().any(|p| p.media != outbound::ALL_MEDIA) {
        request.imp.iter().map(outbound::imp_media).collect()
    } else {
        Vec::new()
    };
    for (i, partner) in gw.partners.iter().enumerate() {
        // Empty = every imp.
        let imps = if restricted || partner.media != outbound::ALL_MEDIA {
            let allowed = |imp: usize| match eligible.get(imp) {
                Some(Some(allowed)) => allowed.contains(&PartnerIx(i)),
                _ => true,
            };
            outbound::offered(request.imp.len(), allowed, &media, partner.media)
        } else {
            Vec::new()
        };
        if !imps.is_empty() && imps.iter().all(|offered| !offered) {
            continue;
        }
        let skipped = |skip| Called {
            partner: PartnerIx(i),
            outcome: Outcome::Throttled(skip),
            elapsed: Duration::ZERO,
            booked: Booked::default(),
            debug: None,
        };
        // Direct demand is the publisher's own: the per-vendor rules do not apply to it
        // (`/v1/ads` has already removed what the listener did not consent to). Decided
        // before the breaker and the QPS cap, so a partner that may not be called spends
        // neither a probe nor a QPS slot.
        let privacy = match partner.demand.vendor_rules() {
            Some(vendor_id) if !quiet => signals.decide(vendor_id),
            _ => Decision::Allow,
        };
        if privacy == Decision::Skip {
            results.push(skipped(Skip::Privacy));
            continue;
        }
        // A ramp or a shadow sample: called on its share of auctions only (not a skip, the
        // partner is simply not part of the others).
        if partner.traffic_share < 1.0 && fastrand::f64() >= partner.traffic_share {
            continue;
        }
        // A shadow partner's own concurrency limit: past it, this auction goes without it.
        let shadow_slot = match partner.shadow {
            Some(max) => match partner.model.shadow.slot(max) {
                Some(slot) => Some(slot),
                None => continue,
            },
            None => None,
        };
        let Some(fixed) = partner_budget(now, deadline, partner.timeout_ms, cfg) else {
            results.push(skipped(Skip::NoTime));
            continue;
        };
        // Static: the budget; adaptive: never more (see `waits`).
        let wait = plan.choose(partner, fixed, now, cfg);
        let budget = wait.budget;
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
        let strip = match privacy {
            Decision::Strip(reasons) => reasons,
            Decision::Allow | Decision::Skip => Reasons::NONE,
        };
        let own = has_params.as_ref().and_then(|has| has[i].then_some(i));
        let params = match has_params {
            None => outbound::Params::AsSent,
            Some(_) => outbound::Params::Scoped {
                own: own.map(|_| partner.id.as_str()),
                is_partner: &is_partner,
            },
        };
        let view = outbound::View {
            imps,
            strip,
            own,
            adjustment: outbound::floor_adjustment(request, partner.bid_adjustment_nanos),
            test: partner.test,
            version: outbound::body_version(&request.rest, partner.demand.openrtb_version()),
        };
        let gzip = partner.demand.gzips_requests();
        // The body an HTTP partner gets, built only when one is asked for: the privacy
        // decision above applied (nothing personal leaves without it), then the cached view.
        let request: &BidRequest = request;
        let mut sent_body = None;
        let mut bytes = || {
            if !strip.is_empty() {
                let reason = strip.first().map_or("", |r| r.as_str());
                metrics::counter!("bidgate_privacy_stripped_total", "partner" => partner.id.to_string(), "reason" => reason)
                    .increment(1); // a lookup: small beside cloning and serialising a copy
            }
            let body = bodies.get(request, &view, &params, budget.tmax_ms, gzip);
            if debug {
                sent_body = Some(body.clone()); // a reference count, not a copy
            }
            body
        };
        // Direct demand decides in-process, in microseconds: no request, no wait.
        let started = Instant::now();
        let ask = partners::Ask {
            request,
            imps: &view.imps,
            listener,
        };
        let sent = match partner.demand.call(ask, &mut bytes, debug) {
            Call::Answered(outcome, booked) => {
                results.push(Called {
                    partner: PartnerIx(i),
                    outcome,
                    elapsed: started.elapsed(),
                    booked,
                    debug: None,
                });
                continue;
            }
            Call::Sent(sent) => sent,
        };
        // What debug output shows of this call: where it went and what it was sent.
        let shown = sent_body.and_then(|body| {
            sent_bodies.push((PartnerIx(i), body.clone()));
            unanswered(partner, body)
        });
        // Debug level: at the usual `info` a span per call cost ~2,200 instructions (its
        // fields formatted into the registry) and no event needs it: the two events about a
        // partner (breaker changes) carry a `partner` field of their own.
        let span = tracing::debug_span!("partner", partner = %partner.id);
        plan.sent(partner, PartnerIx(i), &wait, started, probe);
        // Boxed where it is made: the call's future is ~2.5 KB, and `push` otherwise copies
        // it into the set's task, several times over (callgrind: 3 copies per call).
        pending.push(Box::pin(Instrument::instrument(
            async move {
                let _slot = shadow_slot;
                let started = Instant::now();
                let reply = timeout_at(budget.wait_until, sent).await;
                let (outcome, booked, heard) = match reply {
                    Ok(r) => (r.outcome, r.booked, r.heard),
                    Err(_) => (waits::timeout(&wait), Booked::default(), None),
                };
                let debug = shown.map(|mut call| {
                    if let Some((status, body)) = heard {
                        (call.status, call.response) = (Some(status), body);
                    }
                    Box::new(call)
                });
                let fair = waits::fair_to_partner(&wait)
                    && partner.breaker.timeout_is_failure(
                        budget.wait_until.saturating_duration_since(started),
                        budget.own_timeout,
                    );
                // Judged now, as the call ends: was the slowness ours? (Only a timeout or a
                // transport failure asks; an answer needs no look at our own state.)
                let ours = matches!(outcome, Outcome::Timeout(_) | Outcome::Transport(_))
                    && gw.behind(Instant::now().saturating_duration_since(budget.wait_until));
                record_breaker(partner, &outcome, fair, ours, probe);
                let elapsed = started.elapsed();
                waits::learn(partner, cfg, &wait, &outcome, elapsed);
                Called {
                    partner: PartnerIx(i),
                    outcome,
                    elapsed,
                    booked,
                    debug,
                }
            },
            span,
        )));
    }
    // The caller's request keeps the tmax the (last) partner was told, as before.
    if let Some(tmax) = bodies.last_tmax() {
        request.tmax = Some(tmax as i64);
    }
    // Closes when no call still out holds it (static: when all have ended). Adaptive: what
    // a partner still out may add depends on the bids already in hand.
    if plan.adaptive() {
        for c in &results {
            note_bids(&mut plan, gw, request, c);
        }
    }
    while plan.keep_waiting(Instant::now()) {
        let Some(called) = pending.next().await else {
            break;
        };
        plan.ended(called.partner);
        if plan.adaptive() {
            note_bids(&mut plan, gw, request, &called);
        }
        results.push(called);
    }
    drop(pending);
    // Calls still out are dropped: not waited for (secondary, shadow) or not worth it.
    for (partner, elapsed) in plan.cut(&gw.partners, Instant::now()) {
        // Debug: the call was cut off, so it shows what was sent and no status.
        let debug = sent_bodies
            .iter()
            .find(|(p, _)| *p == partner)
            .and_then(|(_, body)| unanswered(&gw.partners[partner], body.clone()))
            .map(Box::new);
        results.push(Called {
            partner,
            outcome: Outcome::Timeout(Cut::Deadline),
            elapsed,
            booked: Booked::default(),
            debug,
        });
    }
    results
}

/// Tells the plan the bids in `called`, in micros of the auction currency after the
/// partner's bid adjustment (as the auction will rank them). A bid in another currency is
/// left out: it only makes waiting look more worth it, never less.
fn note_bids(plan: &mut Waits, gw: &Gateway, request: &BidRequest, called: &Called) {
    let Outcome::Bid(response) = &called.outcome else {
        return;
    };
    if response.cur.as_deref().is_some_and(|c| c != gw.rates.base) {
        return;
    }
    let adjustment = gw.partners[called.partner].bid_adjustment_nanos as f64 / 1e9;
    for bid in response.seatbid.iter().flat_map(|s| &s.bid) {
        let Some(imp) = request.imp.iter().position(|i| i.id == bid.impid) else {
            continue;
        };
        if let Some(m) = crate::money::Micros::from_f64(bid.price * adjustment) {
            plan.bid_in_hand(imp, request.imp.len(), m.0);
        }
    }
}

/// A call to an HTTP partner as debug output shows it before (or without) an answer: where
/// it went and the body it was sent. `None` for demand without an endpoint.
fn unanswered(partner: &Partner, body: Bytes) -> Option<HttpCall> {
    Some(HttpCall {
        uri: partner.demand.uri()?,
        request: body,
        gzipped: partner.demand.gzips_requests(),
        status: None,
        response: Bytes::new(),
    })
}

/// What a call says about its partner for the breaker: `Some(true)` healthy, `Some(false)`
/// failing, `None` nothing. A timeout counts against the partner only when the wait was fair
/// to it (see `Breaker::timeout_is_failure`), and a timeout or a transport failure only when
/// bidgate was not itself behind at that moment (`ours`, from `Gateway::behind`: its timer
/// fired late, so the answer may have sat unread in a socket; its worker lags; in-flight near
/// the cap). A gateway that is behind must shed requests, not partners. Answers that are
/// wrong (status, body) are the partner's whatever our state.
pub fn judge(outcome: &Outcome, fair_wait: bool, ours: bool) -> Option<bool> {
    match outcome.breaker_success() {
        Some(false) if matches!(outcome, Outcome::Timeout(_)) && (!fair_wait || ours) => None,
        Some(false) if matches!(outcome, Outcome::Transport(_)) && ours => None,
        s => s,
    }
}

fn record_breaker(partner: &Partner, outcome: &Outcome, fair_wait: bool, ours: bool, probe: bool) {
    let success = judge(outcome, fair_wait, ours);
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

#[cfg(test)]
mod tests;
