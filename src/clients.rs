//! Who a client is, for the inbound rate limit (`client_rate_limit`, `[[clients]]`).
//!
//! An identity has to be earned: a client is a configured `[[clients]]` entry only when it
//! presents that entry's key (`X-Api-Key`); anyone else is its address. Keying the limit by
//! whatever a request says about itself (any `X-Api-Key`, an `app.bundle`, an
//! `X-Forwarded-For` from anyone) lets a flood pick a fresh allowance per request. The
//! address is the peer's, or the one a trusted proxy reports (`netaddr::Proxies`).

use crate::config::{ClientConfig, ClientRateLimitConfig, Config};
use crate::netaddr::Proxies;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A key is looked up by its SHA-256: the map's comparisons then say nothing about how much
/// of a guessed key was right.
type KeyHash = [u8; 32];

/// What the limiter was built from; a reload keeps the limiter (and every client's
/// allowance) while this is unchanged.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    rate: ClientRateLimitConfig,
    clients: Vec<ClientConfig>,
    keys: Vec<KeyHash>,
    proxies: Vec<String>,
}

struct Known {
    id: String,
    /// May ask for `ext.debug.httpcalls` (`debug = true`).
    debug: bool,
    /// `None`: this client has no limit.
    limiter: Option<DefaultDirectRateLimiter>,
}

/// The clients bidgate knows, the proxies it trusts, and each one's allowance.
pub struct Clients {
    settings: Settings,
    pub proxies: Proxies,
    /// Everyone without a configured key, by address; `None` when that limit is off.
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    known: HashMap<KeyHash, Known>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl Clients {
    /// Reads each client's key from its environment variable (`key_env`); an unset one is an
    /// error (config checks report it first, with its key path).
    pub fn new(config: &Config) -> Result<Clients, String> {
        let settings = settings(config)?;
        let mut known = HashMap::new();
        for (client, key) in config.clients.iter().zip(&settings.keys) {
            known.insert(
                *key,
                Known {
                    id: client.id.clone(),
                    debug: client.debug,
                    limiter: quota(client.requests_per_second, client.burst)
                        .map(RateLimiter::direct),
                },
            );
        }
        Ok(Clients {
            proxies: Proxies::new(&config.server.trusted_proxies),
            by_address: quota(
                config.client_rate_limit.requests_per_second,
                config.client_rate_limit.burst,
            )
            .map(RateLimiter::keyed),
            known,
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            settings,
        })
    }

    /// Whether `config` asks for the same clients, keys, proxies and limits as this was
    /// built with: then a reload keeps this one, and every client's allowance with it.
    pub fn same_settings(&self, config: &Config) -> bool {
        settings(config).is_ok_and(|s| s == self.settings)
    }

    /// Takes one request from the allowance of whom it comes from, or says how long until
    /// the next one.
    pub fn check<'h>(
        &self,
        api_key: Option<&str>,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'h str>,
    ) -> Result<(), Duration> {
        let wait = |not_until: governor::NotUntil<_>| not_until.wait_time_from(self.clock.now());
        if let Some(k) = api_key.and_then(|k| self.known.get(&hash(k))) {
            let limited = k
                .limiter
                .as_ref()
                .map_or(Ok(()), |l| l.check().map_err(wait));
            if limited.is_err() {
                tracing::debug!(client = %k.id, "client over its rate limit");
            }
            return limited;
        }
        let Some(limiter) = &self.by_address else {
            return Ok(());
        };
        // Forget idle addresses now and then, so that the key set stays bounded.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        // No peer address at all (not on a TCP socket): one shared allowance.
        let ip = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| {
            self.proxies.client_ip(p, forwarded_for)
        });
        limiter.check_key(&ip).map_err(wait)
    }
}

impl Clients {
    /// Whether the client presenting `api_key` may ask for debug output (`ext.debug = 1`):
    /// a configured `[[clients]]` entry with `debug = true`. Asked only of requests that ask.
    pub fn may_debug(&self, api_key: Option<&str>) -> bool {
        api_key
            .and_then(|k| self.known.get(&hash(k)))
            .is_some_and(|k| k.debug)
    }
}

fn settings(config: &Config) -> Result<Settings, String> {
    let keys = config
        .clients
        .iter()
        .map(|c| match std::env::var(&c.key_env) {
            Ok(k) if !k.is_empty() => Ok(hash(&k)),
            _ => Err(format!(
                "clients: ${} (the key of client `{}`) is not set",
                c.key_env, c.id
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Settings {
        rate: config.client_rate_limit.clone(),
        clients: config.clients.clone(),
        keys,
        proxies: config.server.trusted_proxies.clone(),
    })
}

fn quota(rate: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(rate)?;
    Some(Quota::per_second(rate).allow_burst(NonZeroU32::new(burst).unwrap_or(rate)))
}

fn hash(key: &str) -> KeyHash {
    let d = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    d.as_ref().try_into().expect("32 bytes")
}
