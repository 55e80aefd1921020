//! Tracking events: the signed URLs handed to apps, and what happens when one is called.
//!
//! `Events` lives on the `Gateway` and is carried over on reload while its settings are
//! unchanged, so the deduplication memory and the notice backlog survive a reload.

pub mod record;
pub mod token;

use crate::config::EventsConfig;
use crate::notices::Notifier;
use moka::sync::Cache;
use std::time::Duration;
use token::{Signer, TokenId};

/// The event kinds apps report, as they appear in `/v1/events/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Impression,
    Click,
    Start,
    FirstQuartile,
    Midpoint,
    ThirdQuartile,
    Complete,
    Error,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Impression,
        Kind::Click,
        Kind::Start,
        Kind::FirstQuartile,
        Kind::Midpoint,
        Kind::ThirdQuartile,
        Kind::Complete,
        Kind::Error,
    ];

    /// The path segment, VAST's event names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Impression => "impression",
            Kind::Click => "click",
            Kind::Start => "start",
            Kind::FirstQuartile => "firstQuartile",
            Kind::Midpoint => "midpoint",
            Kind::ThirdQuartile => "thirdQuartile",
            Kind::Complete => "complete",
            Kind::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Dedup memory: how long an event is remembered beyond its token's own lifetime.
const DEDUP_SLACK: Duration = Duration::from_secs(3600);

pub struct Events {
    pub signer: Signer,
    /// (kind, token id) of every event counted, for the token's lifetime plus an hour: a
    /// replay (an app retrying, a proxy duplicating) is recognised and not billed again.
    dedup: Cache<(Kind, TokenId), ()>,
    /// Kept across reloads while its limits are unchanged, so the in-flight bound holds.
    pub notifier: std::sync::Arc<Notifier>,
    /// The pooled clients notices use (kept across reloads): open, and public-only.
    pub client: reqwest::Client,
    pub guarded: reqwest::Client,
    /// The settings this was built with (a reload keeps it while they are equal).
    pub cfg: EventsConfig,
}

impl Events {
    pub fn new(
        cfg: &EventsConfig,
        client: reqwest::Client,
        guarded: reqwest::Client,
        previous: Option<&Events>,
    ) -> Self {
        // With no configured key, keep the previous random key: tokens handed out before a
        // reload must still verify after it.
        let signer = match previous {
            Some(p) if cfg.secrets.is_empty() && p.signer.random => p.signer.clone(),
            _ => Signer::new(&cfg.secrets),
        };
        let dedup = match previous {
            Some(p)
                if p.cfg.dedup_capacity == cfg.dedup_capacity
                    && p.cfg.token_ttl_s == cfg.token_ttl_s =>
            {
                p.dedup.clone()
            }
            // LRU, not moka's default TinyLFU: TinyLFU admits a new key only if it is seen
            // more often than the entry it would evict, and every token is seen about once —
            // a full cache would forget new impressions at once and bill their replays.
            _ => {
                let fresh = Cache::builder()
                    .eviction_policy(moka::policy::EvictionPolicy::lru())
                    .max_capacity(cfg.dedup_capacity)
                    .time_to_live(Duration::from_secs(cfg.token_ttl_s) + DEDUP_SLACK)
                    .build();
                // New limits, same memory: what was counted before the reload stays
                // counted (its time to live restarts, which only errs on the safe side).
                if let Some(p) = previous {
                    for (key, ()) in p.dedup.iter() {
                        fresh.insert(*key, ());
                    }
                }
                fresh
            }
        };
        Self {
            signer,
            dedup,
            client: client.clone(),
            guarded: guarded.clone(),
            notifier: match previous {
                Some(p)
                    if p.cfg.notice_concurrency == cfg.notice_concurrency
                        && p.cfg.notice_timeout_ms == cfg.notice_timeout_ms =>
                {
                    p.notifier.clone()
                }
                _ => std::sync::Arc::new(Notifier::new(
                    client,
                    guarded,
                    cfg.notice_concurrency,
                    Duration::from_millis(cfg.notice_timeout_ms),
                )),
            },
            cfg: cfg.clone(),
        }
    }

    /// Whether this is the first time this event of this token is seen (and remembers it).
    pub fn first_time(&self, kind: Kind, id: TokenId) -> bool {
        let fresh = self.dedup.entry((kind, id)).or_insert(()).is_fresh();
        let result = if fresh { "miss" } else { "hit" };
        metrics::counter!("bidgate_cache_requests_total", "cache" => "event_dedup", "result" => result)
            .increment(1);
        fresh
    }

    /// Events remembered now (approximate), for the cache-size gauge.
    pub fn remembered(&self) -> u64 {
        self.dedup.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full cache must still remember the newest events: with moka's default (TinyLFU)
    /// admission, keys seen once are dropped when the cache is full, and a replayed
    /// impression would be billed again.
    #[test]
    fn a_full_dedup_memory_still_remembers_the_newest_events() {
        let cfg = EventsConfig {
            dedup_capacity: 100,
            ..EventsConfig::default()
        };
        let client = reqwest::Client::new();
        let events = Events::new(&cfg, client.clone(), client, None);
        for id in 0..1000u128 {
            assert!(events.first_time(Kind::Impression, id));
        }
        events.dedup.run_pending_tasks();
        for id in 950..1000u128 {
            assert!(
                !events.first_time(Kind::Impression, id),
                "replay of {id} counted as new"
            );
        }
    }

    #[test]
    fn a_reload_with_new_dedup_limits_keeps_what_was_counted() {
        let client = reqwest::Client::new();
        let before = Events::new(
            &EventsConfig::default(),
            client.clone(),
            client.clone(),
            None,
        );
        assert!(before.first_time(Kind::Impression, 7));
        let cfg = EventsConfig {
            dedup_capacity: 10_000,
            token_ttl_s: 600,
            ..EventsConfig::default()
        };
        let after = Events::new(&cfg, client.clone(), client, Some(&before));
        assert!(
            !after.first_time(Kind::Impression, 7),
            "billed once, even across the reload"
        );
        assert!(after.first_time(Kind::Impression, 8));
    }
}
