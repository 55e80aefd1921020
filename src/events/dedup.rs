//! The deduplication memory: which events were already counted, so that a replay (an app
//! retrying, a proxy duplicating) is not counted, and above all not billed, again.
//!
//! Impressions bill, so their memory never forgets early: each entry lives until its own
//! token has expired (plus a margin for clock steps), whatever the config says now, and
//! nothing is evicted to make room. A full memory refuses new impressions (503, the app
//! retries later) rather than forget one it might see again. The other kinds only count, so
//! they share a best-effort LRU of the same size.
//!
//! An event is *claimed* before its record is written and *settled* after: kept once the
//! record is durable, forgotten when it was lost (so the app's retry counts). A replay that
//! arrives while the first is still being written is asked to retry.

use super::Kind;
use super::token::TokenId;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an event is remembered beyond its token's own expiry: a wall clock stepped back
/// (an NTP correction) must not make an expired impression billable again.
pub const SLACK_S: u64 = 3600;

/// What is remembered of an event.
#[derive(Clone)]
struct Seen {
    /// Unix seconds after which it may be forgotten: its token's expiry plus `SLACK_S`.
    forget_at: u64,
    /// Its record is durable (until then a replay is asked to retry).
    settled: Arc<AtomicBool>,
}

/// What came of claiming an event.
pub enum Claim {
    /// Seen for the first time: settle it once its record is written or lost.
    First(Pending),
    /// Counted before.
    Duplicate,
    /// The first of these is being recorded right now: retry.
    InProgress,
    /// The impression memory is full of unexpired impressions: retry later.
    Full,
}

/// A claimed event, waiting for its record.
pub struct Pending {
    kind: Kind,
    id: TokenId,
    settled: Arc<AtomicBool>,
}

/// Each entry expires at its own `forget_at`.
struct OwnExpiry;

impl<K> moka::Expiry<K, Seen> for OwnExpiry {
    fn expire_after_create(&self, _: &K, seen: &Seen, _: Instant) -> Option<Duration> {
        Some(Duration::from_secs(
            seen.forget_at.saturating_sub(unix_now()),
        ))
    }
}

pub struct Dedup {
    impressions: Cache<TokenId, Seen>,
    /// Impressions remembered: moka's own count lags behind its writes.
    held: Arc<AtomicU64>,
    capacity: u64,
    others: Cache<(Kind, TokenId), Seen>,
}

impl Dedup {
    /// A memory for `capacity` impressions (and as many other events), holding what
    /// `previous` holds, each entry with its own expiry (so a shorter `token_ttl_s` after a
    /// reload does not shorten the memory of tokens issued before it).
    pub fn new(capacity: u64, previous: Option<&Dedup>) -> Dedup {
        let held = Arc::new(AtomicU64::new(0));
        let count = held.clone();
        let impressions = Cache::builder()
            .expire_after(OwnExpiry)
            .eviction_listener(move |_, _, cause| {
                if cause != RemovalCause::Replaced {
                    count.fetch_sub(1, Ordering::Relaxed);
                }
            })
            .build();
        // LRU, not moka's default TinyLFU: TinyLFU admits a new key only if it is seen more
        // often than the entry it would evict, and every token is seen about once.
        let others = Cache::builder()
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .max_capacity(capacity)
            .expire_after(OwnExpiry)
            .build();
        let dedup = Dedup {
            impressions,
            held,
            capacity,
            others,
        };
        if let Some(p) = previous {
            // Over the new capacity if need be: forgetting is what must not happen.
            for (id, seen) in p.impressions.iter() {
                dedup.held.fetch_add(1, Ordering::Relaxed);
                dedup.impressions.insert(*id, seen);
            }
            for (key, seen) in p.others.iter() {
                dedup.others.insert(*key, seen);
            }
        }
        dedup
    }

    /// Claims event `kind` of token `id`, whose token expires at `expires` (Unix seconds).
    pub fn claim(&self, kind: Kind, id: TokenId, expires: u64) -> Claim {
        let seen = Seen {
            forget_at: expires.saturating_add(SLACK_S),
            settled: Arc::new(AtomicBool::new(false)),
        };
        let (fresh, seen) = if kind == Kind::Impression {
            if !self.impressions.contains_key(&id) && !self.has_room() {
                return Claim::Full;
            }
            let entry = self.impressions.entry(id).or_insert(seen);
            if entry.is_fresh() {
                self.held.fetch_add(1, Ordering::Relaxed);
            }
            (entry.is_fresh(), entry.into_value())
        } else {
            let entry = self.others.entry((kind, id)).or_insert(seen);
            (entry.is_fresh(), entry.into_value())
        };
        let result = if fresh { "miss" } else { "hit" };
        metrics::counter!("bidgate_cache_requests_total", "cache" => "event_dedup", "result" => result)
            .increment(1);
        if fresh {
            Claim::First(Pending {
                kind,
                id,
                settled: seen.settled,
            })
        } else if seen.settled.load(Ordering::Acquire) {
            Claim::Duplicate
        } else {
            Claim::InProgress
        }
    }

    /// The claimed event's record is durable (`true`: remember it for good) or was lost
    /// (`false`: forget it, so that a retry counts).
    pub fn settle(&self, pending: Pending, durable: bool) {
        if durable {
            pending.settled.store(true, Ordering::Release);
        } else if pending.kind == Kind::Impression {
            self.impressions.invalidate(&pending.id);
        } else {
            self.others.invalidate(&(pending.kind, pending.id));
        }
    }

    /// Whether one more impression fits; when it seems not to, expired ones are purged first.
    fn has_room(&self) -> bool {
        if self.held.load(Ordering::Relaxed) < self.capacity {
            return true;
        }
        self.impressions.run_pending_tasks();
        self.held.load(Ordering::Relaxed) < self.capacity
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        unix_now()
    }

    fn first(c: Claim) -> Pending {
        match c {
            Claim::First(p) => p,
            _ => panic!("not a first claim"),
        }
    }

    #[test]
    fn a_full_memory_refuses_new_impressions_and_still_knows_the_old_ones() {
        let d = Dedup::new(2, None);
        for id in [1, 2] {
            d.settle(first(d.claim(Kind::Impression, id, now() + 60)), true);
        }
        assert!(matches!(
            d.claim(Kind::Impression, 3, now() + 60),
            Claim::Full
        ));
        assert!(matches!(
            d.claim(Kind::Impression, 1, now() + 60),
            Claim::Duplicate
        ));
        // Other kinds are best effort and never refused.
        assert!(matches!(
            d.claim(Kind::Start, 3, now() + 60),
            Claim::First(_)
        ));
    }

    #[test]
    fn a_lost_record_is_forgotten_and_a_pending_one_asks_for_a_retry() {
        let d = Dedup::new(10, None);
        let p = first(d.claim(Kind::Impression, 7, now() + 60));
        assert!(matches!(
            d.claim(Kind::Impression, 7, now() + 60),
            Claim::InProgress
        ));
        d.settle(p, false);
        let p = first(d.claim(Kind::Impression, 7, now() + 60));
        d.settle(p, true);
        assert!(matches!(
            d.claim(Kind::Impression, 7, now() + 60),
            Claim::Duplicate
        ));
    }

    #[test]
    fn a_reload_keeps_every_entry_with_its_own_expiry() {
        let before = Dedup::new(10, None);
        before.settle(first(before.claim(Kind::Impression, 7, now() + 60)), true);
        let after = Dedup::new(1, Some(&before));
        assert!(matches!(
            after.claim(Kind::Impression, 7, 0),
            Claim::Duplicate
        ));
        assert!(matches!(
            after.claim(Kind::Impression, 8, now() + 60),
            Claim::Full
        ));
    }
}
