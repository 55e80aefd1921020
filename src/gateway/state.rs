//! The long-lived state behind the plan: what a config reload must not reset, and the one
//! place that decides what of it survives a reload (`State::carry_over`).
//!
//! A `Gateway` (the plan) is derived from its config and immutable; the state it is built
//! with is interior-mutable and outlives it: breakers, QPS limiters, last-minute stats and
//! pool identities per partner id, the in-flight count, the client limiter, the tracking
//! key, event dedup and the notice backlog, the rates file's latest rates and direct
//! demand's delivery counters. The plan's parts hold `Arc`s into it, so a request reaches
//! a partner's breaker or stats by a field, never by a lookup.

use crate::breaker::Breaker;
use crate::clients::Clients;
use crate::config::{CircuitBreakerConfig, Config, HttpClientConfig};
use crate::currency::FileRates;
use crate::events::dedup::Dedup;
use crate::events::token::Signer;
use crate::events::{Events, dedup_capacity};
use crate::internal::MemoryStore;
use crate::notices::Notifier;
use crate::partners::{PartnerId, PartnerState, Pool};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// Long-lived state for one config: only the partners that config enables (and direct
/// demand when it names a catalog), so a partner removed and added again starts afresh.
pub struct State {
    /// Auctions running now, for `server.max_in_flight`: never reset by a reload.
    pub in_flight: Arc<AtomicUsize>,
    /// Per partner id: its breaker, limiter, stats and pool identity.
    pub partners: HashMap<PartnerId, PartnerState>,
    /// Known clients, trusted proxies and each client's allowance.
    pub clients: Arc<Clients>,
    /// Tracking tokens' key, event deduplication and notices.
    pub events: Arc<Events>,
    /// The rates file's latest rates, for `rates_for` (the file and the auction currency):
    /// the same file in another currency means other numbers.
    pub file_rates: Arc<FileRates>,
    rates_for: (Option<PathBuf>, String),
    /// Direct demand's delivery and frequency-cap counters, while a catalog is configured.
    pub direct_store: Option<Arc<MemoryStore>>,
    /// The store replicas share (`[store]`): kept while that section is unchanged.
    pub store: Arc<crate::store::Shared>,
}

/// The breaker direct demand's partner gets: one that never opens, since it cannot fail on
/// the network.
fn never_opens() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        failure_threshold: 0,
        ..Default::default()
    }
}

impl State {
    /// Fresh state for `config` (at start).
    pub fn new(config: &Config) -> Result<State, String> {
        Self::build(config, None)
    }

    /// The state for a reloaded `config`: what of this one survives, and fresh state for the
    /// rest. `self` is left untouched, so a reload that fails later changes nothing.
    pub fn carry_over(&self, config: &Config) -> Result<State, String> {
        Self::build(config, Some(self))
    }

    /// The carry-over rules, all of them. Per partner id: its breaker survives while its
    /// `circuit_breaker` settings are unchanged, its limiter while its `qps_limit` is, its
    /// stats always, its pool while its `http_client` settings and its endpoint's origin are
    /// unchanged (so the pools stay warm). The in-flight count and notice clients always
    /// survive; the client limiter while its settings are unchanged; the rates file's rates
    /// while the file and the auction currency are; direct demand's counters while a catalog
    /// is configured; events as `events` says; the shared store while `[store]` is
    /// unchanged (a partner's global QPS cap with it, while its `qps_limit` is unchanged).
    fn build(config: &Config, before: Option<&State>) -> Result<State, String> {
        let store = match before {
            Some(s) if s.store.cfg == config.store => s.store.clone(),
            _ => crate::store::Shared::new(&config.store)?,
        };
        let old = |id: &str| before.and_then(|s| s.partners.get(id));
        let breaker = |old: Option<&PartnerState>, c: &CircuitBreakerConfig| match old {
            Some(o) if o.breaker.config() == c => o.breaker.clone(),
            _ => Arc::new(Breaker::new(c.clone())),
        };
        let stats = |old: Option<&PartnerState>| old.map(|o| o.stats.clone()).unwrap_or_default();
        // The yield model, like stats, always survives (what a partner is like does not
        // change with its settings).
        let model = |old: Option<&PartnerState>, id: &str| {
            old.map_or_else(
                || Arc::new(crate::yield_model::PartnerModel::new(id)),
                |o| o.model.clone(),
            )
        };
        let mut partners = HashMap::new();
        for c in config.partners.iter().filter(|p| p.enabled) {
            let old = old(&c.id);
            let endpoint = reqwest::Url::parse(&c.endpoint).map_err(|e| e.to_string())?;
            let kept = old.and_then(|o| o.pool.as_ref()).filter(|p| {
                *p.settings == c.http_client && p.endpoint.origin() == endpoint.origin()
            });
            let settings = match kept {
                Some(p) => p.settings.clone(),
                None => Arc::new(c.http_client.clone()),
            };
            let limiter = match old.filter(|o| o.qps_limit == c.qps_limit) {
                Some(o) => o.limiter.clone(),
                None => c
                    .qps_limit
                    .and_then(NonZeroU32::new)
                    .map(|n| Arc::new(RateLimiter::direct(Quota::per_second(n)))),
            };
            let shared_qps = match old.filter(|o| o.qps_limit == c.qps_limit) {
                Some(o) if o.shared_qps.as_ref().is_some_and(|q| q.same_store(&store)) => {
                    o.shared_qps.clone()
                }
                _ => c
                    .qps_limit
                    .and_then(NonZeroU32::new)
                    .filter(|_| store.is_shared())
                    .map(|n| Arc::new(crate::store::QpsCap::new(&c.id, n, store.clone()))),
            };
            let state = PartnerState {
                breaker: breaker(old, &c.circuit_breaker),
                qps_limit: c.qps_limit,
                limiter,
                shared_qps,
                stats: stats(old),
                pool: Some(Pool { settings, endpoint }),
                model: model(old, &c.id),
            };
            partners.insert(PartnerId::from(c.id.as_str()), state);
        }
        let direct_store = config.internal.catalog.as_ref().map(|_| {
            let id = crate::direct::PARTNER_ID;
            let old = old(id);
            let state = PartnerState {
                breaker: breaker(old, &never_opens()),
                qps_limit: None,
                limiter: None,
                shared_qps: None,
                stats: stats(old),
                pool: None,
                model: model(old, id),
            };
            partners.insert(PartnerId::from(id), state);
            before
                .and_then(|s| s.direct_store.clone())
                .unwrap_or_default()
        });
        let clients = match before {
            Some(s) if s.clients.same_settings(config) => s.clients.clone(),
            _ => Arc::new(Clients::new(config)?),
        };
        let rates_for = (
            config.currency.rates_file.clone(),
            config.auction.currency.clone(),
        );
        let file_rates = match before {
            Some(s) if s.rates_for == rates_for => s.file_rates.clone(),
            _ => Arc::default(),
        };
        Ok(State {
            in_flight: before.map_or_else(Arc::default, |s| s.in_flight.clone()),
            partners,
            clients,
            events: Arc::new(events(config, before.map(|s| &*s.events))?),
            file_rates,
            rates_for,
            direct_store,
            store,
        })
    }
}

/// The events state for `config`, from `before`'s: its notice clients always; its random
/// key while no key is configured (tokens handed out before a reload must still verify
/// after it); its dedup memory while its size is unchanged, and copied into one of the new
/// size otherwise (what was counted stays counted); its notifier while its limits are
/// unchanged (so the in-flight bound holds).
fn events(config: &Config, before: Option<&Events>) -> Result<Events, String> {
    let cfg = &config.events;
    let (client, guarded) = match before {
        Some(b) => (b.client.clone(), b.guarded.clone()),
        // Notices use the default partner pool settings: one more client, built once.
        None => (
            crate::notices::client(&HttpClientConfig::default()).map_err(|e| e.to_string())?,
            crate::notices::guarded_client().map_err(|e| e.to_string())?,
        ),
    };
    let signer = match before {
        Some(b) if cfg.secrets.is_empty() && b.signer.random => b.signer.clone(),
        _ => Signer::new(&cfg.secrets),
    };
    let capacity = dedup_capacity(cfg);
    let dedup = match before {
        Some(b) if dedup_capacity(&b.cfg) == capacity => b.dedup.clone(),
        _ => Arc::new(Dedup::new(capacity, before.map(|b| &*b.dedup))),
    };
    let notifier = match before {
        Some(b)
            if b.cfg.notice_concurrency == cfg.notice_concurrency
                && b.cfg.notice_timeout_ms == cfg.notice_timeout_ms =>
        {
            b.notifier.clone()
        }
        _ => Arc::new(Notifier::new(
            client.clone(),
            guarded.clone(),
            cfg.notice_concurrency,
            Duration::from_millis(cfg.notice_timeout_ms),
        )),
    };
    Ok(Events {
        signer,
        dedup,
        notifier,
        client,
        guarded,
        cfg: cfg.clone(),
    })
}
