//! `GET /admin/status`: live per-partner state as JSON, for on-call eyes and scripts.

use crate::breaker::{State, state_name};
use crate::reload::Live;
use actix_web::{HttpResponse, web};
use serde_json::json;
use tokio::time::Instant;

pub async fn handle(live: web::Data<Live>) -> HttpResponse {
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
pub async fn reload(live: web::Data<Live>) -> HttpResponse {
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
