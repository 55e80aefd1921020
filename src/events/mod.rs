//! Tracking events: the signed URLs handed to apps, and what happens when one is called.
//!
//! `Events` lives on the `Gateway` and is carried over on reload while its settings are
//! unchanged, so the deduplication memory and the notice backlog survive a reload.

pub mod dedup;
pub mod record;
pub mod token;

use crate::config::EventsConfig;
use crate::notices::Notifier;
use dedup::Dedup;
use std::sync::Arc;
use std::time::Duration;
use token::Signer;

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

pub struct Events {
    pub signer: Signer,
    /// Every event counted, until its token expires (see `dedup`): a replay is recognised
    /// and not billed again. Kept across reloads (entries and all) while its size is unchanged.
    pub dedup: Arc<Dedup>,
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
        let capacity = dedup_capacity(cfg);
        let dedup = match previous {
            Some(p) if dedup_capacity(&p.cfg) == capacity => p.dedup.clone(),
            // New size, same memory: what was counted before the reload stays counted.
            _ => Arc::new(Dedup::new(capacity, previous.map(|p| &*p.dedup))),
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
}

/// Impressions the deduplication memory holds: configured, or enough for
/// `dedup_impressions_per_second` over a token's whole memory (its lifetime plus the margin).
pub fn dedup_capacity(cfg: &EventsConfig) -> u64 {
    match cfg.dedup_capacity {
        0 => cfg
            .dedup_impressions_per_second
            .saturating_mul(cfg.token_ttl_s.saturating_add(dedup::SLACK_S)),
        n => n,
    }
}
