//! The admin API: `GET /admin/status` (live per-partner state as JSON, for on-call eyes and
//! scripts) and `POST /admin/reload`. Every handler takes `Admin`: a bearer token check.

use crate::breaker::{State, state_name};
use crate::reload::Live;
use actix_web::{HttpResponse, web};
use serde_json::json;
use tokio::time::Instant;

pub async fn handle(_admin: Admin, live: web::Data<Live>) -> HttpResponse {
    let gw = live.current();
    let now = Instant::now();
    let partners: Vec<_> = gw
        .partners
        .iter()
        .map(|p| {
            let state = p.breaker.state();
            let mut circuit = json!({ "state": state_name(&state) });
            match state {
                State::Closed { failures } => circuit["consecutive_failures"] = json!(failures),
                State::Open { until } => {
                    circuit["reopens_in_ms"] =
                        json!(until.saturating_duration_since(now).as_millis() as u64)
                }
                State::HalfOpen { successes, .. } => circuit["probe_successes"] = json!(successes),
            }
            json!({
                "id": p.id.as_str(),
                "endpoint": p.endpoint.as_str(),
                "timeout_ms": p.timeout_ms,
                "circuit": circuit,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "partners": partners }))
}

/// `POST /admin/reload`: re-reads the config file. 200 with the partner count, or 400 with
/// every problem, one per line, while the running config stays.
pub async fn reload(_admin: Admin, live: web::Data<Live>) -> HttpResponse {
    let live = live.into_inner();
    // Reading and validating a file is blocking work: off the event loop.
    match tokio::task::spawn_blocking(move || live.reload()).await {
        Ok(Ok(n)) => HttpResponse::Ok()
            .content_type("text/plain")
            .body(format!("reloaded: {n} partners\n")),
        Ok(Err(problems)) => HttpResponse::BadRequest().content_type("text/plain").body(
            problems
                .iter()
                .map(|p| format!("{p}\n"))
                .collect::<String>(),
        ),
        Err(e) => HttpResponse::InternalServerError().body(format!("reload failed: {e}\n")),
    }
}

/// Proof that the request carried the configured admin token. Without a configured token
/// the admin API is closed: it can reconfigure the gateway, so it is never open by default.
pub struct Admin;

impl actix_web::FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(check(req))
    }
}

fn check(req: &actix_web::HttpRequest) -> Result<Admin, actix_web::Error> {
    let live = req
        .app_data::<web::Data<Live>>()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("no gateway"))?;
    let Some(token) = live.current().config.admin.token.clone() else {
        return Err(actix_web::error::ErrorForbidden(
            "the admin API is closed: set admin.token (BIDGATE_ADMIN__TOKEN)\n",
        ));
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(Admin),
        _ => Err(actix_web::error::InternalError::from_response(
            "unauthorized",
            HttpResponse::Unauthorized()
                .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                .body("admin API: missing or wrong bearer token\n"),
        )
        .into()),
    }
}

/// Compares without an early exit, so the time taken does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
