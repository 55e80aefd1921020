//! The HTTP edge for clients: routes, body reading, error mapping. Only this module speaks
//! HTTP to clients; it turns requests into domain calls and domain results into responses.

mod admin_page;
mod ads;
mod auction;
mod events;
mod status;

use crate::telemetry;
use actix_web::dev::Service;
use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

/// The routes clients and load balancers use. Shared state (`Live`, the metrics handle)
/// comes in as app data.
pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(only("/openrtb2/auction", Method::POST, auction::handle))
        .service(only("/v1/ads", Method::POST, ads::handle))
        .service(only("/v1/events/{kind}", Method::GET, events::handle));
    probes(cfg);
}

/// `/healthz` and `/readyz`: on every listener, so each port can be health-checked.
pub fn probes(cfg: &mut web::ServiceConfig) {
    cfg.service(only("/healthz", Method::GET, healthz))
        .service(only("/readyz", Method::GET, readyz));
}

/// The routes for operators: on the main listener, or on `admin.listen` only.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(only("/admin", Method::GET, status::page))
        .service(only("/admin/status", Method::GET, status::handle))
        .service(only("/admin/reload", Method::POST, status::reload))
        .service(only("/metrics", Method::GET, metrics));
}

/// A path served with one method. Any other method gets 405 with `Allow` (RFC 9110
/// §15.5.6), not the 404 of an unknown path: a client that POSTs where GET is expected is
/// told what is wrong (actix's resources fall back to the app's 404 otherwise).
fn only<F, Args>(path: &str, method: Method, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let allow = method.to_string();
    web::resource(path)
        .route(web::route().method(method).to(handler))
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((actix_web::http::header::ALLOW, allow.clone()))
                    .content_type("text/plain")
                    .body(format!("method not allowed: use {allow}\n"))
            }
        }))
}

/// Counts every response by route pattern (bounded) and status.
pub fn count_requests<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>>
+ use<S, B>
where
    S: Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        telemetry::http_request(route, res.status().as_u16());
        Ok(res)
    }
}

/// Ready for traffic: the config is loaded and the listener is up (or this would not answer),
/// the partner connections opened at start are up (or were given up on after the connect
/// timeout), and the process is not draining towards a stop.
async fn readyz(live: web::Data<crate::reload::Live>) -> HttpResponse {
    if live.draining() {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("draining\n");
    }
    if !live.warm() {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("warming partner connections\n");
    }
    HttpResponse::Ok()
        .content_type("text/plain")
        .body("ready\n")
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Behind the admin token when one is set (`admin.protect_metrics`): the figures include
/// revenue per partner.
async fn metrics(
    req: actix_web::HttpRequest,
    live: web::Data<crate::reload::Live>,
    handle: web::Data<PrometheusHandle>,
) -> Result<HttpResponse, actix_web::Error> {
    status::check_metrics(&req, &live)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render()))
}
