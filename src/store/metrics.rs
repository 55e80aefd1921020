//! The store's metric handles, registered once per `Shared` (never a label lookup per
//! operation), and the fixed label values they carry.

use metrics::{Counter, Gauge};

/// What one Redis operation is for: a label of `bidgate_store_ops_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Dedup,
    CapsRead,
    CapsWrite,
    Lease,
    LeaseReturn,
    QpsLease,
}

const OPS: [Op; 6] = [
    Op::Dedup,
    Op::CapsRead,
    Op::CapsWrite,
    Op::Lease,
    Op::LeaseReturn,
    Op::QpsLease,
];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Dedup => "dedup",
            Op::CapsRead => "caps_read",
            Op::CapsWrite => "caps_write",
            Op::Lease => "lease",
            Op::LeaseReturn => "lease_return",
            Op::QpsLease => "qps_lease",
        }
    }
}

/// Which use fell back to its local policy: a label of `bidgate_store_fallbacks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Billing dedup checked locally only (the record says `dedup_unverified`).
    Dedup,
    /// Frequency caps counted locally, each replica allowing `ceil(cap / replicas)`.
    Caps,
    /// Pacing could not lease more: the line item stops when its lease runs out.
    Pacing,
    /// A partner's QPS cap enforced locally at `qps_limit / replicas`.
    Qps,
}

const FALLBACKS: [Fallback; 4] = [
    Fallback::Dedup,
    Fallback::Caps,
    Fallback::Pacing,
    Fallback::Qps,
];

impl Fallback {
    fn name(self) -> &'static str {
        match self {
            Fallback::Dedup => "dedup",
            Fallback::Caps => "caps",
            Fallback::Pacing => "pacing",
            Fallback::Qps => "qps",
        }
    }
}

/// Metric handles, registered once per `Shared`.
pub(super) struct Metrics {
    pub up: Gauge,
    /// Per `Op`: ok, error, timeout, skipped (breaker open, not connected, too busy).
    ops: Vec<[Counter; 4]>,
    fallbacks: Vec<Counter>,
    pub lease_granted: Counter,
    pub lease_returned: Counter,
    pub qps_tokens: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        // Handles taken before the recorder is installed would be no-ops.
        let _ = crate::telemetry::metrics();
        let ops = OPS
            .iter()
            .map(|op| {
                ["ok", "error", "timeout", "skipped"].map(|r| {
                    metrics::counter!("bidgate_store_ops_total", "op" => op.name(), "result" => r)
                })
            })
            .collect();
        let fallbacks = FALLBACKS
            .iter()
            .map(|f| metrics::counter!("bidgate_store_fallbacks_total", "use" => f.name()))
            .collect();
        Self {
            up: metrics::gauge!("bidgate_store_up"),
            ops,
            fallbacks,
            lease_granted: metrics::counter!("bidgate_store_lease_impressions_total", "flow" => "granted"),
            lease_returned: metrics::counter!("bidgate_store_lease_impressions_total", "flow" => "returned"),
            qps_tokens: metrics::counter!("bidgate_store_qps_tokens_leased_total"),
        }
    }

    pub fn op(&self, op: Op, result: usize) {
        let i = OPS.iter().position(|o| *o == op).unwrap_or(0);
        self.ops[i][result].increment(1);
    }
}

impl Metrics {
    pub fn fallback(&self, what: Fallback) {
        let i = FALLBACKS.iter().position(|f| *f == what).unwrap_or(0);
        self.fallbacks[i].increment(1);
    }
}
