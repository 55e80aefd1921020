//! Everything the request path needs, built once from a validated config.
//!
//! One `Gateway` is shared by all HTTP workers. It is immutable: a future config reload
//! builds a new one and swaps it in whole, so a running auction never sees half a config.

use crate::config::{Config, Pricing};
use crate::money::Micros;
use crate::partners::{self, Partner};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One admitted auction; dropping it frees the slot (also when the request is dropped).
pub struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Gateway {
    pub config: Config,
    /// Auctions running now, for the `server.max_in_flight` load-shedding limit.
    in_flight: AtomicUsize,
    /// Enabled partners only, in config order.
    pub partners: Vec<Partner>,
    pub pricing: crate::auction::PriceRule,
}

impl Gateway {
    pub fn new(config: Config) -> Result<Self, String> {
        // One client (one connection pool) per distinct HTTP settings, shared by partners.
        let mut clients: Vec<(&crate::config::HttpClientConfig, reqwest::Client)> = Vec::new();
        let mut partners = Vec::new();
        for p in config.partners.iter().filter(|p| p.enabled) {
            let client = match clients.iter().find(|(c, _)| same_pool(c, &p.http_client)) {
                Some((_, client)) => client.clone(),
                None => {
                    let client = partners::client(&p.http_client).map_err(|e| e.to_string())?;
                    clients.push((&p.http_client, client.clone()));
                    client
                }
            };
            partners.push(Partner::from_config(p, client)?);
        }
        let pricing = match config.auction.pricing {
            Pricing::FirstPrice => crate::auction::PriceRule::First,
            Pricing::SecondPrice => crate::auction::PriceRule::Second {
                increment: Micros::from_f64(config.auction.second_price_increment)
                    .ok_or("auction.second_price_increment is not a valid amount")?,
            },
        };
        Ok(Self {
            config,
            in_flight: AtomicUsize::new(0),
            partners,
            pricing,
        })
    }

    /// A slot for one more auction, or `None` when `max_in_flight` are already running: past
    /// that, queueing would make every answer late, so the excess is refused at once (503).
    pub fn admit(&self) -> Option<InFlight<'_>> {
        let limit = self.config.server.max_in_flight;
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = InFlight(&self.in_flight);
        (limit == 0 || before < limit).then_some(permit)
    }

    /// OpenRTB `at`: 1 first price, 2 second price plus.
    pub fn auction_type(&self) -> i64 {
        match self.config.auction.pricing {
            Pricing::FirstPrice => 1,
            Pricing::SecondPrice => 2,
        }
    }
}

/// Whether two partners' settings can share a client: all but the body cap, which is
/// enforced per call.
fn same_pool(a: &crate::config::HttpClientConfig, b: &crate::config::HttpClientConfig) -> bool {
    let strip = |c: &crate::config::HttpClientConfig| crate::config::HttpClientConfig {
        max_response_bytes: 0,
        ..c.clone()
    };
    strip(a) == strip(b)
}
