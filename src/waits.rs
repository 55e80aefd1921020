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
    /// Adaptive only: per imp, the best bid in hand so far, in micros of the auction
    /// currency (0: none yet).
    best: Vec<i64>,
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
            best: Vec::new(),
        }
    }

    /// Whether the waits are adaptive (the bids in hand matter to the close).
    pub fn adaptive(&self) -> bool {
        self.adaptive
    }

    /// A bid in hand on imp `imp` (of `imps`) at `micros` in the auction currency.
    pub fn bid_in_hand(&mut self, imp: usize, imps: usize, micros: i64) {
        if self.best.len() < imps {
            self.best.resize(imps, 0);
        }
        if let Some(b) = self.best.get_mut(imp) {
            *b = (*b).max(micros);
        }
    }

    /// What a partner's bid must beat to add anything, in micros: the lowest over imps of
    /// the best bid in hand (0 while an imp has none). One figure for all imps keeps the
    /// test simple and errs towards waiting.
    fn in_hand(&self) -> f64 {
        if self.best.is_empty() {
            return 0.0;
        }
        self.best.iter().copied().min().unwrap_or(0).max(0) as f64
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
            // Only a drawn probe: a partner on its static budget because its quantile is past
            // it (a slow one) must still be worth its wait, or every auction waits for it.
            probe: wait.kind == Kind::Probe,
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
        let best = self.in_hand();
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
                        best,
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
        matches!(wait.kind, Kind::Static | Kind::Probe),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Gateway;

    /// A slow partner that adds nothing: its p90 is past its budget, so it gets the static
    /// budget (`Kind::Static`). It must still be worth its wait to hold the close; only a
    /// drawn probe waits for it regardless (this was a bug: every such call counted as a
    /// probe, so every auction waited for the slowest partner).
    #[test]
    fn a_slow_worthless_partner_on_its_static_budget_does_not_hold_the_close() {
        let toml = "[auction]\ndeadline_mode = \"adaptive\"\n\n\
                    [[partners]]\nid = \"slow\"\nendpoint = \"http://127.0.0.1:9/\"\ntimeout_ms = 185\n";
        let gw = Gateway::new(crate::config::from_toml_str(toml, Vec::new()).unwrap()).unwrap();
        let cfg = &gw.config.auction;
        let partner = &gw.partners[0];
        let p50 = 150.0;
        partner.model.set_snapshot_for_test(Snapshot {
            samples: 1000,
            latency_ms: [
                0.5, 0.65, 0.8, 0.9, 1.0, 1.1, 1.25, 1.45, 1.8, 2.2, 3.0, 4.0,
            ]
            .map(|s| s * p50),
            on_time: Some(0.8),
            win_share: Some(0.0),
            value_micros: 0.0,
            bid_rate: None,
            price_micros: None,
        });
        let t0 = Instant::now();
        let fixed = PartnerBudget {
            tmax_ms: 185,
            wait_until: t0 + Duration::from_millis(185),
            own_timeout: true,
        };
        let snap = partner.model.snapshot();
        let mut waits = Waits::new(cfg);
        let plain = choice::choose(fixed, t0, &snap, &cfg.adaptive, false);
        assert_eq!(plain.kind, Kind::Static, "its p90 (270 ms) is past 185");
        waits.sent(partner, PartnerIx(0), &plain, t0, false);
        let later = t0 + Duration::from_millis(10);
        assert!(!waits.keep_waiting(later), "worth nothing: not waited for");

        let mut waits = Waits::new(cfg);
        let probe = choice::choose(fixed, t0, &snap, &cfg.adaptive, true);
        assert_eq!(probe.kind, Kind::Probe);
        waits.sent(partner, PartnerIx(0), &probe, t0, false);
        assert!(waits.keep_waiting(later), "a probe waits for it");
    }
}
