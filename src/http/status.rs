//! `GET /admin/status`: live per-partner state as JSON, for on-call eyes and scripts.

use crate::breaker::{State, state_name};
use crate::gateway::Gateway;
use actix_web::{HttpResponse, web};
use serde_json::json;
use tokio::time::Instant;

pub async fn handle(gw: web::Data<Gateway>) -> HttpResponse {
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
