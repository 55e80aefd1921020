//! How long one fan-out waits for each partner, and when it closes: the static rule (every
//! partner up to its budget) or `deadline_mode = "adaptive"` (each partner's wait chosen
//! from its yield model, secondary and shadow partners not waited for, and an early close
//! once no partner still out is worth its remaining wait). Also what a finished call teaches
//! the partner's model.
//!
//! Kept apart from `fanout` (which sends and polls) so that the policy reads as one piece;
//! its decisions are `yield_model::choice`'s pure functions.

use crate::config::{AuctionConfig, DeadlineMode};
use crate::deadline::PartnerBudget;
use crate::outcome::{Cut, Outcome};
use crate::partners::{Partner, PartnerIx};
use crate::yield_model::{Kind, Snapshot, Wait, choice};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One fan-out's waits: the partners still out and what each may hold the close for.
pub struct Waits {
    adaptive: bool,
    /// `wait_cost_per_ms` in micros.
    cost: f64,
    min_samples: u32,
    out: Vec<Out>,
}

struct Out {
    partner: PartnerIx,
    sent: Instant,
    /// Its wait, in ms after `sent`.
    until_ms: f64,
    holds_close: bool,
    /// Waited for whatever its value (a probe of the adaptive model).
    probe: bool,
    /// It holds its breaker's half-open probe, to give back if the call is dropped.
    breaker_probe: bool,
    snapshot: Arc<Snapshot>,
    done: bool,
}

impl Waits {
    pub fn new(cfg: &AuctionConfig) -> Self {
        Self {
            adaptive: cfg.deadline_mode == DeadlineMode::Adaptive,
            cost: cfg.adaptive.wait_cost_per_ms * 1e6,
            min_samples: cfg.adaptive.min_samples,
            out: Vec::new(),
        }
    }

    /// The wait of a partner whose static budget is `fixed`, sent at `now`. Shadow
    /// partners keep their budget and never hold the close; in static mode everyone else
    /// holds it for their whole budget.
    pub fn choose(
        &self,
        partner: &Partner,
        fixed: PartnerBudget,
        now: Instant,
        cfg: &AuctionConfig,
    ) -> Wait {
        let whole = Wait {
            budget: fixed,
            holds_close: partner.shadow.is_none(),
            kind: Kind::Static,
        };
        if !self.adaptive || partner.shadow.is_some() {
            return whole;
        }
        let probe = fastrand::f64() < cfg.adaptive.probe_share;
        choice::choose(fixed, now, &partner.model.snapshot(), &cfg.adaptive, probe)
    }

    /// A call is out: `partner` sent at `sent` with `wait`.
    pub fn sent(
        &mut self,
        partner: &Partner,
        ix: PartnerIx,
        wait: &Wait,
        sent: Instant,
        breaker_probe: bool,
    ) {
        let until = wait.budget.wait_until.saturating_duration_since(sent);
        self.out.push(Out {
            partner: ix,
            sent,
            until_ms: until.as_secs_f64() * 1000.0,
            holds_close: wait.holds_close,
            probe: self.adaptive && wait.kind == Kind::Static && wait.holds_close,
            breaker_probe,
            snapshot: partner.model.snapshot(),
            done: false,
        });
    }

    /// `ix`'s call ended by itself (answered or cut at its own wait).
    pub fn ended(&mut self, ix: PartnerIx) {
        if let Some(o) = self.out.iter_mut().find(|o| o.partner == ix && !o.done) {
            o.done = true;
        }
    }

    /// Whether the fan-out should keep waiting at `now`: some partner still out holds the
    /// close and (adaptive) is still worth its remaining wait, or is a probe.
    pub fn keep_waiting(&self, now: Instant) -> bool {
        self.out
            .iter()
            .filter(|o| !o.done && o.holds_close)
            .any(|o| {
                !self.adaptive
                    || o.probe
                    || choice::worth_waiting(
                        &o.snapshot,
                        self.min_samples,
                        now.saturating_duration_since(o.sent),
                        o.until_ms,
                        self.cost,
                    )
            })
    }

    /// The calls still out when the fan-out closed at `now`: each partner and how long it
    /// had been out. Their breaker probes are given back (the call says nothing).
    pub fn cut(self, partners: &[Partner], now: Instant) -> Vec<(PartnerIx, Duration)> {
        self.out
            .into_iter()
            .filter(|o| !o.done)
            .map(|o| {
                if o.breaker_probe {
                    partners[o.partner.0].breaker.release_probe();
                }
                (o.partner, now.saturating_duration_since(o.sent))
            })
            .collect()
    }
}

/// The outcome of a call cut at its wait: the partner's own timeout, or (the request's
/// deadline, or an adaptive wait shorter than its timeout) ours.
pub fn timeout(wait: &Wait) -> Outcome {
    Outcome::Timeout(if wait.budget.own_timeout && wait.kind != Kind::Quantile {
        Cut::OwnTimeout
    } else {
        Cut::Deadline
    })
}

/// Whether a timeout at `wait` may count against the partner's breaker: not when the wait
/// was an adaptive quantile (cutting the slowest answers is then the plan, not a failure).
pub fn fair_to_partner(wait: &Wait) -> bool {
    wait.kind != Kind::Quantile
}

/// What a call that ended by itself teaches its partner's model: its latency (or that it
/// was cut off), and, when it was waited for its whole static budget, whether it answered
/// in time. A secondary partner's calls are judged only on probes.
pub fn learn(
    partner: &Partner,
    cfg: &AuctionConfig,
    wait: &Wait,
    outcome: &Outcome,
    elapsed: Duration,
) {
    let answered = matches!(outcome, Outcome::Bid(_) | Outcome::NoBid);
    let cut = matches!(outcome, Outcome::Timeout(_));
    partner.model.call(
        Instant::now(),
        cfg.adaptive.window_s,
        (!cut).then_some(elapsed),
        answered,
        wait.kind == Kind::Static,
    );
}
