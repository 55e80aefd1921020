//! Everything the request path needs, built once from a validated config.
//!
//! One `Gateway` is shared by all HTTP workers. It is immutable: a future config reload
//! builds a new one and swaps it in whole, so a running auction never sees half a config.

use crate::config::{Config, Pricing};
use crate::money::Micros;
use crate::partners::{self, Partner};

pub struct Gateway {
    pub config: Config,
    /// Enabled partners only, in config order.
    pub partners: Vec<Partner>,
    pub client: reqwest::Client,
    pub pricing: crate::auction::PriceRule,
}

impl Gateway {
    pub fn new(config: Config) -> Result<Self, String> {
        let partners = config
            .partners
            .iter()
            .filter(|p| p.enabled)
            .map(Partner::from_config)
            .collect::<Result<Vec<_>, _>>()?;
        let client = partners::client(&config.http_client).map_err(|e| e.to_string())?;
        let pricing = match config.auction.pricing {
            Pricing::FirstPrice => crate::auction::PriceRule::First,
            Pricing::SecondPrice => crate::auction::PriceRule::Second {
                increment: Micros::from_f64(config.auction.second_price_increment)
                    .ok_or("auction.second_price_increment is not a valid amount")?,
            },
        };
        Ok(Self {
            config,
            partners,
            client,
            pricing,
        })
    }

    /// OpenRTB `at`: 1 first price, 2 second price plus.
    pub fn auction_type(&self) -> i64 {
        match self.config.auction.pricing {
            Pricing::FirstPrice => 1,
            Pricing::SecondPrice => 2,
        }
    }
}
