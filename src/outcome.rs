//! What came of asking one partner: a plain value on the hot path, never an error that
//! unwinds the auction. Each outcome has a stable `ext.errors` code and a metrics label.

use crate::openrtb::BidResponse;
use std::time::Duration;

/// What came of asking one partner. Codes are stable and appear in `ext.errors` (docs/api.md, status and error codes).
#[derive(Debug)]
pub enum Outcome {
    Bid(BidResponse),
    NoBid,
    /// No complete answer before the partner's deadline; whatever was in flight is dropped.
    Timeout(Cut),
    /// Connecting, sending or receiving failed (refused, reset, closed early).
    Transport(String),
    BadResponse(BadResponse),
    /// Not asked at all: no request was sent.
    Throttled(Skip),
}

/// What ended the wait for a partner that did not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Its own `timeout_ms`: the partner was slower than its contract.
    OwnTimeout,
    /// The auction's deadline (the client's tmax) came first: the partner may have been
    /// within its own timeout, the request was simply tighter.
    Deadline,
}

/// Why a partner was not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Less than a millisecond would have been left for it.
    NoTime,
    /// Its circuit breaker is open (or it is not this auction's turn to probe it).
    CircuitOpen,
    /// Its `qps_limit` is used up for now.
    Qps,
    /// GDPR applies and the TC string gives its vendor no legal basis for purpose 2 (see
    /// `privacy::Signals::decide`): it may not take part in the auction at all.
    Privacy,
}

#[derive(Debug)]
pub enum BadResponse {
    Status(u16),
    Body(String),
    TooLarge(usize),
}

impl Outcome {
    /// The `outcome` metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Bid(_) => "bid",
            Outcome::NoBid => "nobid",
            Outcome::Timeout(Cut::OwnTimeout) => "timeout",
            Outcome::Timeout(Cut::Deadline) => "late",
            Outcome::Transport(_) | Outcome::BadResponse(_) => "error",
            Outcome::Throttled(Skip::NoTime | Skip::Qps) => "throttled",
            Outcome::Throttled(Skip::CircuitOpen) => "circuit_open",
            Outcome::Throttled(Skip::Privacy) => "no_legal_basis",
        }
    }

    /// What kind of error, for `bidgate_partner_errors_total{kind}` (the `error` outcome
    /// label's detail); `None` for outcomes that are not errors.
    pub fn error_kind(&self) -> Option<&'static str> {
        match self {
            Outcome::Transport(_) => Some("transport"),
            Outcome::BadResponse(BadResponse::Status(_)) => Some("status"),
            Outcome::BadResponse(BadResponse::Body(_)) => Some("body"),
            Outcome::BadResponse(BadResponse::TooLarge(_)) => Some("too_large"),
            _ => None,
        }
    }

    /// Whether this counts against the partner's circuit breaker (`None`: neither way).
    pub fn breaker_success(&self) -> Option<bool> {
        match self {
            Outcome::Bid(_) | Outcome::NoBid => Some(true),
            Outcome::Timeout(_) | Outcome::Transport(_) | Outcome::BadResponse(_) => Some(false),
            Outcome::Throttled(_) => None,
        }
    }

    /// The `ext.errors` entry for this outcome, if it is an error.
    pub fn error(&self, waited: Duration) -> Option<(u32, String)> {
        Some(match self {
            Outcome::Bid(_) | Outcome::NoBid => return None,
            Outcome::Timeout(_) => (1, format!("no answer within {} ms", waited.as_millis())),
            Outcome::Transport(e) => (2, e.clone()),
            Outcome::BadResponse(BadResponse::Status(s)) => (3, format!("HTTP status {s}")),
            Outcome::BadResponse(BadResponse::Body(e)) => (4, e.clone()),
            Outcome::BadResponse(BadResponse::TooLarge(n)) => {
                (5, format!("response body larger than {n} bytes"))
            }
            Outcome::Throttled(Skip::NoTime) => (6, "not called: no time left".into()),
            Outcome::Throttled(Skip::Qps) => (6, "not called: partner QPS limit reached".into()),
            Outcome::Throttled(Skip::CircuitOpen) => (
                7,
                "not called: circuit breaker open after repeated failures".into(),
            ),
            Outcome::Throttled(Skip::Privacy) => (
                8,
                "not called: under GDPR, the TCF string gives its vendor no purpose 2 legal basis"
                    .into(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_stable() {
        let w = Duration::from_millis(7);
        assert_eq!(Outcome::NoBid.error(w), None);
        assert_eq!(Outcome::Timeout(Cut::OwnTimeout).error(w).unwrap().0, 1);
        assert_eq!(Outcome::Timeout(Cut::Deadline).error(w).unwrap().0, 1);
        assert_eq!(Outcome::Transport("x".into()).error(w).unwrap().0, 2);
        assert_eq!(
            Outcome::BadResponse(BadResponse::Status(500))
                .error(w)
                .unwrap()
                .0,
            3
        );
        assert_eq!(
            Outcome::BadResponse(BadResponse::Body("x".into()))
                .error(w)
                .unwrap()
                .0,
            4
        );
        assert_eq!(
            Outcome::BadResponse(BadResponse::TooLarge(9))
                .error(w)
                .unwrap()
                .0,
            5
        );
        assert_eq!(Outcome::Throttled(Skip::NoTime).error(w).unwrap().0, 6);
        assert_eq!(Outcome::Throttled(Skip::CircuitOpen).error(w).unwrap().0, 7);
        assert_eq!(Outcome::Throttled(Skip::Privacy).error(w).unwrap().0, 8);
    }
}
