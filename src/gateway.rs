//! Everything the request path needs, built once from a validated config.
//!
//! One `Gateway` is shared by all HTTP workers. Its config and what is derived from it are
//! immutable: a config reload builds a new one (`Gateway::inherit`) and swaps it in whole
//! (`reload`), so a running auction never sees half a config. Not everything in it is a
//! plan, though: breakers, QPS limiters, last-minute stats, pool identities (`Http::http`),
//! the in-flight count, the client limiter, event dedup and direct demand's store are
//! long-lived state with interior mutability, handed from each gateway to its successor by
//! `inherit` (through the `previous` its constructors take). Splitting plan from state, keyed
//! by partner id and carried over in one place, is the next step (issue 13).

use crate::config::{Config, Pricing};
use crate::limits::{self, Shed};
use crate::money::Micros;
use crate::partners::{self, Partner, PartnerIx};
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
    /// Auctions running now, for the `server.max_in_flight` load-shedding limit; shared with
    /// the gateways that replace this one, so that a reload does not reset it.
    in_flight: Arc<AtomicUsize>,
    /// Enabled partners only, in config order.
    pub partners: Vec<Partner>,
    pub pricing: crate::auction::PriceRule,
    /// Known clients, trusted proxies and the inbound limit per client; carried over on
    /// reload while their settings are unchanged.
    pub clients: Arc<crate::clients::Clients>,
    /// Tracking tokens, event deduplication and notices (see `Events::new` for what a
    /// reload keeps).
    pub events: Arc<crate::events::Events>,
    /// Conversion into the auction currency (config rates + the rates file's latest).
    pub rates: Arc<crate::currency::Rates>,
}

impl Gateway {
    pub fn new(config: Config) -> Result<Self, String> {
        Self::build(config, None)
    }

    /// A gateway for a reloaded config that keeps what must survive the reload: the pooled
    /// clients whose settings did not change, the breaker state and QPS limiter of partners
    /// that still exist with the same settings, and the in-flight count.
    pub fn inherit(config: Config, previous: &Gateway) -> Result<Self, String> {
        Self::build(config, Some(previous))
    }

    fn build(config: Config, previous: Option<&Gateway>) -> Result<Self, String> {
        let mut partners = Vec::new();
        // The partner with this id in the gateway this one replaces.
        let before =
            |id: &str| previous.and_then(|g| g.partners.iter().find(|old| old.id.as_str() == id));
        for p in config.partners.iter().filter(|p| p.enabled) {
            partners.push(Partner::from_config(
                p,
                &config.auction.currency,
                before(&p.id),
            )?);
        }
        if let Some(path) = &config.internal.catalog {
            let before = before(crate::direct::PARTNER_ID);
            partners.push(Partner::direct(&config, path, before)?);
        }
        let pricing = match config.auction.pricing {
            Pricing::FirstPrice => crate::auction::PriceRule::First,
            Pricing::SecondPrice => crate::auction::PriceRule::Second {
                increment: Micros::from_f64(config.auction.second_price_increment)
                    .ok_or("auction.second_price_increment is not a valid amount")?,
            },
        };
        let clients = crate::clients::Clients::carry_over(previous.map(|g| &g.clients), &config)?;
        // Notices use the default partner pool settings: one more client, built once.
        let events = {
            let (client, guarded, prev) = match previous {
                Some(g) => (
                    g.events.client.clone(),
                    g.events.guarded.clone(),
                    Some(&*g.events),
                ),
                None => (
                    partners::client(&crate::config::HttpClientConfig::default())
                        .map_err(|e| e.to_string())?,
                    crate::notices::guarded_client().map_err(|e| e.to_string())?,
                    None,
                ),
            };
            Arc::new(crate::events::Events::new(
                &config.events,
                client,
                guarded,
                prev,
            ))
        };
        let rates = {
            let configured = config
                .currency
                .rates
                .iter()
                .filter_map(|(code, r)| Some((code.clone(), crate::currency::Rate::from_f64(*r)?)))
                .collect();
            let rates = crate::currency::Rates::new(&config.auction.currency, configured);
            // The file's last rates carry over only while they still mean the same thing:
            // same file, same auction currency (the watcher re-reads the file right away).
            if let Some(g) = previous.filter(|g| {
                g.config.currency.rates_file == config.currency.rates_file
                    && g.config.auction.currency == config.auction.currency
            }) {
                rates.set_file_rates(g.rates.file_rates());
            }
            Arc::new(rates)
        };
        Ok(Self {
            clients,
            events,
            rates,
            config,
            in_flight: previous.map_or_else(Arc::default, |g| g.in_flight.clone()),
            partners,
            pricing,
        })
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
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let mut permit = InFlight(self.in_flight.clone(), None);
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
        self.in_flight.load(Ordering::Relaxed)
    }

    /// OpenRTB `at`: 1 first price, 2 second price plus.
    pub fn auction_type(&self) -> i64 {
        match self.config.auction.pricing {
            Pricing::FirstPrice => 1,
            Pricing::SecondPrice => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(toml: &str) -> Gateway {
        Gateway::new(crate::config::from_toml_str(toml, Vec::new()).unwrap()).unwrap()
    }

    #[test]
    fn in_flight_slots_are_counted_and_given_back() {
        let gw = gateway("[server]\nmax_in_flight = 2\nmax_worker_lag_ms = 0\n");
        let a = gw.admit().unwrap();
        let b = gw.admit().unwrap();
        assert_eq!(gw.admit().err(), Some(Shed::InFlight(2)));
        drop(a);
        let c = gw.admit().expect("a slot was given back");
        assert!(
            gw.admit().is_err(),
            "a refused attempt does not leak a slot"
        );
        drop((b, c));
        assert!(gw.admit().is_ok());
    }

    #[test]
    fn a_lagging_worker_sheds_until_it_catches_up() {
        let gw = gateway("[server]\nmax_worker_lag_ms = 20\n");
        limits::set_worker_lag_for_test(Duration::from_millis(35));
        assert!(matches!(gw.lag_check(), Err(Shed::WorkerLag(_))));
        limits::set_worker_lag_for_test(Duration::from_millis(3));
        assert!(gw.lag_check().is_ok());
    }
}
