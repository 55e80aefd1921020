//! Billing dedup across replicas: an impression's token id is claimed in Redis with
//! `SET NX` (after the local moka memory said it is new), so that an impression URL replayed
//! to another replica is billed once.
//!
//! The claim is first written as *pending* with a short TTL (a replica that dies between
//! claim and record does not block the event for the token's life), and made *settled*
//! with the token's remaining TTL (plus `events::dedup::SLACK_S`) once the record is
//! durable, or deleted when it was lost, as locally. Redis unreachable: the local memory
//! alone decides and the event's record says `dedup_unverified`.

use super::{Fallback, Op, Shared};
use std::sync::Arc;

/// How long a claim stays pending before another replica may take the event over.
const PENDING_TTL_S: u64 = 30;

/// What Redis said about an event the local memory had not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// No shared store: the local memory is the truth.
    NotShared,
    /// Claimed here first.
    First,
    /// Counted (settled) by some replica before.
    Duplicate,
    /// Being recorded by some replica now: retry.
    InProgress,
    /// Redis did not answer in time: local only, unverified.
    Unverified,
}

fn key(shared: &Shared, id: u128) -> String {
    shared.key(format_args!("ev:{{{id:032x}}}"))
}

/// Claims impression `id` in Redis (one round trip, bounded by `store.timeout_ms`).
pub async fn claim(shared: &Arc<Shared>, id: u128) -> Remote {
    if !shared.is_shared() {
        return Remote::NotShared;
    }
    let key = key(shared, id);
    let before = shared
        .run(Op::Dedup, |mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg("p")
                .arg("NX")
                .arg("GET")
                .arg("EX")
                .arg(PENDING_TTL_S)
                .query_async::<Option<String>>(&mut c)
                .await
        })
        .await;
    match before {
        Ok(None) => Remote::First,
        Ok(Some(v)) if v == "p" => Remote::InProgress,
        Ok(Some(_)) => Remote::Duplicate,
        Err(_) => {
            shared.fallback(Fallback::Dedup);
            Remote::Unverified
        }
    }
}

/// Settles a claim made by `claim` (in the background): kept until `forget_at` (unix s)
/// when its record is `durable`, deleted otherwise.
pub fn settle(shared: &Arc<Shared>, id: u128, durable: bool, forget_at: u64) {
    let key = key(shared, id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ttl = forget_at.saturating_sub(now).max(1);
    let me = shared.clone();
    shared.spawn(async move {
        let _ = me
            .run(Op::Dedup, |mut c| async move {
                let cmd = if durable {
                    let mut set = redis::cmd("SET");
                    set.arg(&key).arg("d").arg("EX").arg(ttl);
                    set
                } else {
                    let mut del = redis::cmd("DEL");
                    del.arg(&key);
                    del
                };
                cmd.query_async::<redis::Value>(&mut c).await
            })
            .await;
    });
}
