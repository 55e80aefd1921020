//! The demand seam: what answers a partner's bid requests. An HTTP partner, or direct demand
//! (the direct-sold catalog, decided in-process: `direct`). Everything that differs between
//! the two is a method here, so that the fan-out, the auction, the ad API and billing ask a
//! partner's demand instead of testing which kind it is:
//!
//! - `seat`: the seat its winning bids carry;
//! - `call`: one bid request, answered now (in-process) or sent (a future the fan-out bounds
//!   by the partner's deadline);
//! - what `call` answers carries each direct bid's typed `Booking` (its tier, which the
//!   auction ranks by, and its line item, which the tracking token carries);
//! - `on_impression`: a billed impression's delivery accounting;
//! - `chooses_placements`, and the HTTP pool's warm-up (whether a reload made it new; what
//!   survives a reload is `gateway::State`'s decision).

use super::{Booked, Impression, Outcome, PartnerId};
use crate::config::HttpClientConfig;
use crate::direct::Direct;
use crate::openrtb::BidRequest;
use bytes::Bytes;
use futures_util::future::Either;
use std::future::Future;
use std::sync::Arc;

/// What bids for a partner.
#[derive(Debug)]
pub enum Demand {
    /// An OpenRTB bidder over HTTP (boxed: its prepared URI and headers make it large).
    Http(Box<Http>),
    /// Direct-sold demand, decided in-process (see `direct`).
    Direct(Arc<Direct>),
}

/// An HTTP partner: where and how it is called.
#[derive(Debug)]
pub struct Http {
    pub endpoint: reqwest::Url,
    pub max_response_bytes: usize,
    /// The settings of this partner's pooled clients, and their identity: each worker
    /// thread keeps its own client (its own keep-alive pool) per `http` (see
    /// [`Http::client`]). Shared with this partner's successor after a reload while the
    /// settings and the endpoint's origin are unchanged, so the pools stay warm.
    pub http: Arc<HttpClientConfig>,
    /// Its IAB TCF vendor id: what its privacy decision is made for.
    pub vendor_id: Option<u16>,
    /// `endpoint` as the request target, parsed once (not per call).
    pub uri: http::Uri,
    /// The headers of every bid request, built once: content type, OpenRTB version,
    /// `Content-Encoding` (`gzip_requests`), `Accept-Encoding` (`http_client.gzip`), then the
    /// configured `headers` (values read at load).
    pub heads: http::HeaderMap,
    /// Its bodies arrive gzipped (`gzip_requests`): the fan-out compresses each distinct
    /// body once, and the call says `Content-Encoding: gzip`.
    pub gzip_requests: bool,
    /// The OpenRTB version it speaks (`openrtb_version`): the shape of its bodies and its
    /// `x-openrtb-version` header.
    pub openrtb_version: crate::config::OpenRtbVersion,
}

/// One bid request for one partner, as the fan-out prepared it.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'r> {
    /// Without `tmax` (each HTTP partner's is spliced into its body).
    pub request: &'r BidRequest,
    /// The imps this partner is offered; empty = all.
    pub imps: &'r [bool],
    /// The client's typed targeting values, where it gave them (`/v1/ads`).
    pub listener: Option<&'r crate::vocab::Listener>,
}

/// What a sent call came to: its outcome, direct demand's bookings of its bids, and, when
/// debug output was asked for, what an HTTP partner answered (status, body).
#[derive(Debug)]
pub struct Reply {
    pub outcome: Outcome,
    pub booked: Booked,
    pub heard: Option<(u16, Bytes)>,
}

/// What came of asking: an answer now, or a call on its way.
pub enum Call<F> {
    /// Decided in-process: the outcome and its bids' bookings.
    Answered(Outcome, Booked),
    /// Sent (over HTTP, or direct demand waiting for the shared store's counters): the
    /// fan-out bounds it by the partner's deadline and drops it when late.
    Sent(F),
}

impl Demand {
    /// The seat its bids carry in answers when it is not the partner's id.
    pub fn seat(&self) -> Option<&'static str> {
        match self {
            Demand::Http(_) => None,
            Demand::Direct(_) => Some(crate::direct::SEAT),
        }
    }

    /// Whether its request bodies are to be gzipped (`body()` then hands it gzip bytes).
    pub fn gzips_requests(&self) -> bool {
        matches!(self, Demand::Http(http) if http.gzip_requests)
    }

    /// The OpenRTB version its bodies are shaped for (direct demand reads them in-process:
    /// 2.6).
    pub fn openrtb_version(&self) -> crate::config::OpenRtbVersion {
        match self {
            Demand::Http(http) => http.openrtb_version,
            Demand::Direct(_) => crate::config::OpenRtbVersion::V2_6,
        }
    }

    /// Whose privacy rules it is bound by: `Some(vendor id)` for an HTTP partner (its TCF
    /// vendor, `None` when not configured), `None` for direct demand, which is the
    /// publisher's own (`/v1/ads` has already removed what the listener did not consent to).
    pub fn vendor_rules(&self) -> Option<Option<u16>> {
        match self {
            Demand::Http(http) => Some(http.vendor_id),
            Demand::Direct(_) => None,
        }
    }

    /// Asks for bids. An HTTP partner gets `body()`, the serialised request as its privacy
    /// decision allows; direct demand reads `ask` (no body is built for it). `keep`: debug
    /// output was asked for, keep what the partner answers.
    pub fn call<'a>(
        &'a self,
        ask: Ask<'_>,
        body: &mut dyn FnMut() -> Bytes,
        keep: bool,
    ) -> Call<impl Future<Output = Reply> + use<'a>> {
        match self {
            Demand::Http(http) => {
                let body = body();
                Call::Sent(Either::Left(async move {
                    let (outcome, heard) = super::call(http, body, keep).await;
                    Reply {
                        outcome,
                        booked: Booked::default(),
                        heard,
                    }
                }))
            }
            Demand::Direct(direct) => {
                let now_unix = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let Some(user) = direct.caps_to_fetch(ask.request) else {
                    let (outcome, booked) =
                        direct.answer(ask.request, ask.imps, ask.listener, now_unix);
                    return Call::Answered(outcome, booked);
                };
                // The listener's cap counters are in the shared store: one round trip
                // (bounded by `store.timeout_ms`), then the same decision. The future owns
                // what it reads, as the fan-out's calls outlive this borrow.
                let (request, imps) = (ask.request.clone(), ask.imps.to_vec());
                let listener = ask.listener.copied();
                Call::Sent(Either::Right(async move {
                    let caps = direct.fetch_caps(user).await;
                    let (outcome, booked) =
                        direct.answer_with(&request, &imps, listener.as_ref(), now_unix, &caps);
                    Reply {
                        outcome,
                        booked,
                        heard: None,
                    }
                }))
            }
        }
    }

    /// A billed impression of one of its bids: direct demand counts delivery and frequency
    /// caps; an HTTP partner counts its own (its `burl` was fired).
    pub fn on_impression(&self, imp: &Impression<'_>) {
        if let Demand::Direct(direct) = self {
            direct.on_impression(imp);
        }
    }

    /// One of its bids won an auction (a billable one, before the answer): direct demand
    /// spends the booked line item's pacing lease on this replica, the one that served it.
    pub fn on_win(&self, booking: Option<&crate::direct::Booking>, clearing: crate::money::Micros) {
        if let (Demand::Direct(direct), Some(b)) = (self, booking) {
            direct.on_win(&b.line_item, clearing);
        }
    }

    /// Whether it picks its placements itself, so that a placement's partner list does not
    /// restrict it: direct demand's catalog targets placements on its own.
    pub fn chooses_placements(&self) -> bool {
        matches!(self, Demand::Direct(_))
    }

    /// Where its bid requests go, as debug output and the admin API show it: an HTTP
    /// partner's endpoint with any credentials in it masked (direct demand has none).
    pub fn uri(&self) -> Option<String> {
        let Demand::Http(http) = self else {
            return None;
        };
        let url = &http.endpoint;
        if url.username().is_empty() && url.password().is_none() {
            return Some(url.to_string());
        }
        let mut shown = url.clone();
        let _ = shown.set_username("***");
        if url.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        Some(shown.to_string())
    }

    /// What the admin API shows as its endpoint.
    pub fn endpoint(&self) -> String {
        self.uri()
            .unwrap_or_else(|| "direct (in-process catalog)".into())
    }

    /// The most bytes read from it: bid responses and markup fetched from a `nurl` (direct
    /// bids always carry their markup).
    pub fn max_response_bytes(&self) -> usize {
        match self {
            Demand::Http(http) => http.max_response_bytes,
            Demand::Direct(_) => 0,
        }
    }

    /// Its connect timeout, which bounds warming its pool (0: nothing to connect to).
    pub fn connect_timeout_ms(&self) -> u64 {
        match self {
            Demand::Http(http) => http.http.connect_timeout_ms,
            Demand::Direct(_) => 0,
        }
    }

    /// Whether its pool is new (not carried over from `previous`): it needs warming.
    pub fn pool_is_new(&self, previous: Option<&Demand>) -> bool {
        match (self, previous) {
            (Demand::Http(new), Some(Demand::Http(old))) => !Arc::ptr_eq(&old.http, &new.http),
            (Demand::Http(_), _) => true,
            (Demand::Direct(_), _) => false,
        }
    }

    /// Opens its warm connections (see `Http::warm`); direct demand has none.
    pub async fn warm(&self, id: &PartnerId, until: tokio::time::Instant) -> usize {
        match self {
            Demand::Http(http) => http.warm(id, until).await,
            Demand::Direct(_) => 0,
        }
    }
}
