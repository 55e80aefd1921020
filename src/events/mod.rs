//! Tracking events: the signed URLs handed to apps, and what happens when one is called.
//!
//! `Events` is long-lived state (`gateway::State`, which decides what a reload keeps): the
//! signing key, the deduplication memory and the notice backlog survive a reload.

pub mod dedup;
pub mod record;
pub mod replay;
pub mod token;

use crate::config::EventsConfig;
use crate::notices::Notifier;
use dedup::Dedup;
use std::sync::Arc;
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
    /// The settings this was built with (what a reload compares the new ones with).
    pub cfg: EventsConfig,
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
