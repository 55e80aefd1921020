//! Everything the request path needs, built once from a validated config: the plan.
//!
//! One `Gateway` is shared by all HTTP workers. It is derived from its config and
//! immutable: a config reload builds a new one and swaps it in whole (`reload`), so a
//! running auction never sees half a config. What must outlive a reload (breakers, QPS
//! limiters, stats, pool identities, the in-flight count, the client limiter, event dedup,
//! the rates file's rates, direct demand's counters) is long-lived state, `State`, keyed by
//! partner id and carried over in one place (`State::carry_over`). A gateway is built from
//! its config and a `State`, and its parts hold `Arc`s into that state.

mod state;
#[cfg(test)]
mod tests;

pub use state::State;

use crate::config::{Config, Pricing};
use crate::limits::{self, Shed};
use crate::money::Micros;
use crate::partners::{Partner, PartnerIx};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// One admitted auction; dropping it frees the slot (also when the request is dropped).
pub struct InFlight(Arc<AtomicUsize>, Option<limits::Local>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Gateway {
    pub config: Config,
    /// Enabled partners only, in config order.
    pub partners: Vec<Partner>,
    pub pricing: crate::auction::PriceRule,
    /// Known clients, trusted proxies and the inbound limit per client (`state`'s).
    pub clients: Arc<crate::clients::Clients>,
    /// Tracking tokens, event deduplication and notices (`state`'s).
    pub events: Arc<crate::events::Events>,
    /// Conversion into the auction currency (config rates + the rates file's latest).
    pub rates: Arc<crate::currency::Rates>,
    /// The long-lived state this was built with, which a reload carries over.
    state: State,
}

impl Gateway {
    /// A gateway with fresh state (at start).
    pub fn new(config: Config) -> Result<Self, String> {
        let state = State::new(&config)?;
        Self::with_state(config, state)
    }

    /// The plan for `config`, its parts holding `state`'s (which must be built for this
    /// config: `State::new`, or `State::carry_over` on a reload).
    pub fn with_state(config: Config, state: State) -> Result<Self, String> {
        let of = |id: &str| {
            state
                .partners
                .get(id)
                .ok_or_else(|| format!("partners.{id}: no state was built for it"))
        };
        let configured = config
            .currency
            .rates
            .iter()
            .filter_map(|(code, r)| Some((code.clone(), crate::currency::Rate::from_f64(*r)?)))
            .collect();
        let rates = Arc::new(crate::currency::Rates::with_file(
            &config.auction.currency,
            configured,
            state.file_rates.clone(),
        ));
        let mut partners = Vec::new();
        for p in config.partners.iter().filter(|p| p.enabled) {
            let partner = Partner::from_config(p, &config.auction.currency, of(&p.id)?)?;
            partners.push(partner);
        }
        if let Some(path) = &config.internal.catalog {
            let store = state.direct_store.clone().unwrap_or_default();
            let direct = of(crate::direct::PARTNER_ID)?;
            let shared = state.store.clone();
            partners.push(Partner::direct(
                &config,
                path,
                direct,
                store,
                shared,
                rates.clone(),
            )?);
        }
        let pricing = match config.auction.pricing {
            Pricing::FirstPrice => crate::auction::PriceRule::First,
            Pricing::SecondPrice => crate::auction::PriceRule::Second {
                increment: Micros::from_f64(config.auction.second_price_increment)
                    .ok_or("auction.second_price_increment is not a valid amount")?,
            },
        };
        Ok(Self {
            clients: state.clients.clone(),
            events: state.events.clone(),
            rates,
            config,
            partners,
            pricing,
            state,
        })
    }

    /// The long-lived state this gateway was built with (a reload's `State::carry_over`).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether this worker keeps up: one lagging more than `max_worker_lag_ms` would answer
    /// its queued requests late, so it refuses new auctions until it catches up.
    pub fn lag_check(&self) -> Result<(), Shed> {
        let max = self.config.server.max_worker_lag_ms;
        let lag = limits::worker_lag();
        if max > 0 && lag > Duration::from_millis(max) {
            return Err(Shed::WorkerLag(lag));
        }
        Ok(())
    }

    /// A slot for one more auction, or `Shed::InFlight` past `max_in_flight` running ones,
    /// or `Shed::Adaptive` past this worker's adaptive limit (`limits::Aimd`): more would
    /// queue past their deadlines, so the excess is refused at once (503).
    pub fn admit(&self) -> Result<InFlight, Shed> {
        let server = &self.config.server;
        let max = server.max_in_flight;
        let in_flight = &self.state.in_flight;
        let before = in_flight.fetch_add(1, Ordering::AcqRel);
        let mut permit = InFlight(in_flight.clone(), None);
        if max > 0 && before >= max {
            return Err(Shed::InFlight(max)); // dropping `permit` gives the slot back
        }
        let target = Duration::from_millis(server.target_worker_lag_ms);
        permit.1 = Some(limits::admit_local(target, max)?);
        Ok(permit)
    }

    /// Whether this process is itself behind, as a partner call ends `overshoot` after its
    /// deadline timer was due: the timer fired late, the worker lags, or in-flight auctions
    /// are close to the cap. Then a partner's slowness may be ours and is not held against
    /// it. The lag tests follow `server.target_worker_lag_ms` (slack: twice it, at least
    /// 10 ms; timers have 1 ms resolution) and are off with it, like the other lag-based
    /// protections.
    pub fn behind(&self, overshoot: Duration) -> bool {
        let server = &self.config.server;
        let max = server.max_in_flight;
        if max > 0 && self.in_flight() * 10 >= max * 9 {
            return true;
        }
        if server.target_worker_lag_ms == 0 {
            return false;
        }
        let slack = Duration::from_millis((server.target_worker_lag_ms * 2).max(10));
        overshoot > slack || limits::worker_lag() > slack
    }

    /// Opens warm connections to every partner whose pool is new compared with `previous`
    /// (all of them at start), at most `connect_timeout_ms` (of the slowest setting, plus
    /// a little) from now. Returns the connections opened.
    pub async fn warm(&self, previous: Option<&Gateway>) -> usize {
        let longest = self
            .partners
            .iter()
            .map(|p| p.demand.connect_timeout_ms())
            .max()
            .unwrap_or(0);
        let until = tokio::time::Instant::now() + Duration::from_millis(longest + 100);
        let warming = self.partners.iter().filter(|p| {
            let before = previous.and_then(|g| g.partners.iter().find(|o| o.id == p.id));
            p.demand.pool_is_new(before.map(|b| &b.demand))
        });
        futures_util::future::join_all(warming.map(|p| p.demand.warm(&p.id, until)))
            .await
            .into_iter()
            .sum()
    }

    /// The index in `partners` of the enabled partner with this id.
    pub fn partner_index(&self, id: &str) -> Option<PartnerIx> {
        self.partners
            .iter()
            .position(|p| p.id.as_str() == id)
            .map(PartnerIx)
    }

    /// Auctions running now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::Relaxed)
    }

    /// OpenRTB `at`: 1 first price, 2 second price plus.
    pub fn auction_type(&self) -> i64 {
        match self.config.auction.pricing {
            Pricing::FirstPrice => 1,
            Pricing::SecondPrice => 2,
        }
    }
}
