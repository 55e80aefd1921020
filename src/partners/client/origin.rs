//! A partner's URI as the two HTTP versions send it, computed once per pool.

use super::Body;

/// A partner URI in the two forms a request needs: absolute (HTTP/2 takes its scheme and
/// authority from it) and origin-form with a `Host` header (HTTP/1.1).
pub(super) struct Origin {
    pub(super) absolute: http::Uri,
    pub(super) path: http::Uri,
    pub(super) host: http::HeaderValue,
}

impl Origin {
    pub(super) fn of(uri: &http::Uri) -> Option<Origin> {
        let authority = uri.authority()?;
        // The host and a port that is not the scheme's own, without user info.
        let default_port = match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        };
        let host = match authority.port_u16() {
            Some(p) if Some(p) != default_port => format!("{}:{p}", authority.host()),
            _ => authority.host().to_string(),
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Some(Origin {
            absolute: uri.clone(),
            path: path.parse().ok()?,
            host: http::HeaderValue::from_str(&host).ok()?,
        })
    }
}

/// HTTP/1.1 sends the path, and the authority as `Host` (unless the partner's headers
/// name one).
pub(super) fn to_origin_form(req: &mut http::Request<Body>, origin: &Origin, usual: bool) {
    let path = if usual {
        origin.path.clone()
    } else {
        req.uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"))
    };
    if !req.headers().contains_key(http::header::HOST) {
        let host = match usual {
            true => origin.host.clone(),
            false => Origin::of(req.uri()).map_or(http::HeaderValue::from_static(""), |o| o.host),
        };
        req.headers_mut().insert(http::header::HOST, host);
    }
    *req.uri_mut() = path;
}
