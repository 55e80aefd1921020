//! The HTTP edge for clients: routes, body reading, error mapping. Only this module speaks
//! HTTP to clients; it turns requests into domain calls and domain results into responses.

mod admin_page;
mod ads;
mod auction;
mod events;
mod status;

use crate::telemetry;
use actix_web::dev::Service;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

/// The routes clients and load balancers use. Shared state (`Live`, the metrics handle)
/// comes in as app data.
pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openrtb2/auction", web::post().to(auction::handle))
        .route("/v1/ads", web::post().to(ads::handle))
        .route("/v1/events/{kind}", web::get().to(events::handle));
    probes(cfg);
}

/// `/healthz` and `/readyz`: on every listener, so each port can be health-checked.
pub fn probes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The routes for operators: on the main listener, or on `admin.listen` only.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(status::page))
        .route("/admin/status", web::get().to(status::handle))
        .route("/admin/reload", web::post().to(status::reload))
        .route("/metrics", web::get().to(metrics));
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
