//! The OpenAPI 3.1 document of bidgate's HTTP API, `schemas/openapi.json`: the operations
//! are written here, the body schemas are generated from the types (the same generators as the
//! other files of `schemas/`), so the document cannot drift from them. One test fails when the
//! committed file is out of date (`BIDGATE_BLESS=1` rewrites it, like the other schemas);
//! another asks the real app every documented operation and checks that the route exists and
//! that the status it answers is one the document lists. `scripts/schemathesis.sh` checks
//! much more of it against `bidgate demo` (generated requests, every answer against its schema).

use crate::helpers::*;
use serde_json::{Map, Value, json};

/// Moves a generated root schema into `components.schemas` under its title, with its `$defs`
/// as `<Title>.<Def>` beside it (an ad request's `App` is not a bid request's `App`), and
/// every `$ref` pointed there.
fn add_schema(components: &mut Map<String, Value>, mut schema: Value) -> Value {
    let title = schema["title"]
        .as_str()
        .expect("a titled schema")
        .to_string();
    let defs = schema
        .as_object_mut()
        .unwrap()
        .remove("$defs")
        .unwrap_or_else(|| json!({}));
    schema.as_object_mut().unwrap().remove("$schema");
    let mut put = |name: String, mut s: Value| {
        retarget(&mut s, &title);
        assert!(
            components.insert(name.clone(), s).is_none(),
            "two schemas named {name}"
        );
    };
    for (name, def) in defs.as_object().unwrap() {
        put(format!("{title}.{name}"), def.clone());
    }
    put(title.clone(), schema);
    json!({ "$ref": format!("#/components/schemas/{title}") })
}

fn retarget(v: &mut Value, title: &str) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref")
                && let Some(def) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{title}.{def}");
            }
            o.values_mut().for_each(|c| retarget(c, title));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| retarget(c, title)),
        _ => {}
    }
}

/// Rules of bidgate's validation that the types do not carry (they are checked in code), so
/// that generated requests meet them and the document says what a 400 is for. Each target
/// must exist: a renamed field fails here instead of silently dropping its rule.
fn validation_rules(schemas: &mut Map<String, Value>) {
    let mut rule = |schema: &str, field: Option<&str>, rule: Value| {
        let s = schemas
            .get_mut(schema)
            .unwrap_or_else(|| panic!("no schema {schema}"));
        let target = match field {
            Some(f) => s["properties"]
                .get_mut(f)
                .unwrap_or_else(|| panic!("{schema} has no {f}")),
            None => s,
        };
        target
            .as_object_mut()
            .unwrap()
            .extend(rule.as_object().unwrap().clone());
    };
    // validation::parse: a non-empty id, at most one of site/app/dooh, at least one imp, each
    // offering a media type.
    rule("BidRequest", Some("id"), json!({ "minLength": 1 }));
    rule("BidRequest", Some("imp"), json!({ "minItems": 1 }));
    let two =
        [["site", "app"], ["site", "dooh"], ["app", "dooh"]].map(|p| json!({ "required": p }));
    rule("BidRequest", None, json!({ "not": { "anyOf": two } }));
    rule("BidRequest.Imp", Some("id"), json!({ "minLength": 1 }));
    let media = ["banner", "video", "audio", "native"].map(|m| json!({ "required": [m] }));
    rule("BidRequest.Imp", None, json!({ "anyOf": media }));
    // ads::parse.
    rule("AdRequest.App", Some("bundle"), json!({ "minLength": 1 }));
    let max = bidgate::ads::MAX_SLOTS;
    rule(
        "AdRequest",
        Some("slots"),
        json!({ "minItems": 1, "maxItems": max }),
    );
    rule(
        "AdRequest.Slot",
        Some("id"),
        json!({ "minLength": 1, "maxLength": 64 }),
    );
}

fn text(description: &str) -> Value {
    json!({ "description": description,
            "content": { "text/plain": { "schema": { "type": "string" } } } })
}

fn retry_after(description: &str) -> Value {
    let mut r = text(description);
    r["headers"] = json!({ "Retry-After": { "$ref": "#/components/headers/Retry-After" } });
    r
}

fn json_body(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// What the client edges share: bad input, slow or big bodies, rate limits, load shedding.
fn edge_errors(responses: &mut Value) {
    let r = responses.as_object_mut().unwrap();
    r.insert(
        "400".into(),
        text("invalid request: one line naming the field"),
    );
    r.insert("408".into(), text("the body did not arrive in time"));
    r.insert(
        "413".into(),
        text("body larger than server.max_request_bytes"),
    );
    r.insert(
        "429".into(),
        retry_after("this client is over its rate limit"),
    );
    r.insert("503".into(), retry_after("overloaded: shed at once, retry"));
}

fn admin_errors(responses: &mut Value) {
    let r = responses.as_object_mut().unwrap();
    let mut unauthorized = text("no token or a wrong one (Bearer and Basic challenges)");
    unauthorized["headers"] =
        json!({ "WWW-Authenticate": { "schema": { "type": "string" }, "required": true } });
    r.insert("401".into(), unauthorized);
    r.insert(
        "403".into(),
        text("no admin.token configured: the admin API is closed"),
    );
}

/// The whole document, from the types' schemas and the operations below.
pub fn document() -> Value {
    let mut schemas = Map::new();
    let bid_request = add_schema(&mut schemas, bidgate::openrtb_model::request_schema());
    let bid_response = add_schema(&mut schemas, bidgate::openrtb_model::response_schema());
    let ad_request = add_schema(
        &mut schemas,
        serde_json::to_value(schemars::schema_for!(bidgate::ads::AdRequest)).unwrap(),
    );
    let ad_response = add_schema(
        &mut schemas,
        serde_json::to_value(schemars::schema_for!(bidgate::ads::AdResponse)).unwrap(),
    );
    validation_rules(&mut schemas);
    let api_key = json!({ "$ref": "#/components/parameters/X-Api-Key" });
    let admin = json!([{ "bearer": [] }, { "basic": [] }]);

    let mut auction = json!({
        "200": json_body("at least one imp has a winner: winners only", bid_response),
        "204": { "description": "nothing won; empty body" },
    });
    edge_errors(&mut auction);
    let mut ads = json!({
        "200": json_body("the request was valid: every slot listed, filled or not", ad_response),
    });
    edge_errors(&mut ads);
    let events = json!({
        "200": { "description": "counted (pixel=1): a 1×1 GIF",
                 "content": { "image/gif": { "schema": { "type": "string", "contentMediaType": "image/gif" } } } },
        "204": { "description": "a valid token: counted; a first impression is billed" },
        "400": text("no token or a malformed one"),
        "403": text("a forged or tampered token"),
        "404": text("an unknown event kind"),
        "410": text("an expired token"),
        "429": retry_after("this client is over its rate limit"),
        "503": retry_after("not recorded (or being recorded now, or the deduplication memory is full): not billed, retry"),
    });
    let mut status = json!({ "200": json_body("partners, circuits, QPS, the last minute's figures",
                                              json!({ "type": "object" })) });
    admin_errors(&mut status);
    let mut page = json!({ "200": { "description": "the status page",
        "content": { "text/html": { "schema": { "type": "string" } } } } });
    admin_errors(&mut page);
    let mut reload = json!({
        "200": text("reloaded: N partners"),
        "400": text("the config (or its catalog) is invalid: every problem, one per line"),
        "500": { "description": "the reload itself failed; the running config stays" },
    });
    admin_errors(&mut reload);
    reload["403"] = text("no admin.token configured, or a cross-site browser request");
    let mut metrics = json!({ "200": { "description": "Prometheus text format",
        "content": { "text/plain": { "schema": { "type": "string" } } } } });
    admin_errors(&mut metrics);
    metrics.as_object_mut().unwrap().remove("403");

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "bidgate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "An OpenRTB 2.6 exchange gateway. Every status, error code and \
                            field is explained in docs/api.md; this document is generated by \
                            tests/api/openapi.rs from the types.",
            "license": { "name": "see the repository" }
        },
        "paths": {
            "/openrtb2/auction": { "post": {
                "operationId": "auction",
                "summary": "An OpenRTB 2.6 auction (bid request in, bid response out)",
                "parameters": [api_key],
                "requestBody": { "required": true,
                    "content": { "application/json": { "schema": bid_request } } },
                "responses": auction } },
            "/v1/ads": { "post": {
                "operationId": "ads",
                "summary": "The client ad API: slots of configured placements in, ads out",
                "parameters": [api_key],
                "requestBody": { "required": true,
                    "content": { "application/json": { "schema": ad_request } } },
                "responses": ads } },
            "/v1/events/{kind}": { "get": {
                "operationId": "event",
                "summary": "A tracking event from a tracking URL of a /v1/ads answer",
                "parameters": [
                    { "name": "kind", "in": "path", "required": true, "schema": { "type": "string",
                      "enum": ["impression", "click", "start", "firstQuartile", "midpoint",
                               "thirdQuartile", "complete", "error"] } },
                    { "name": "t", "in": "query", "required": true,
                      "description": "the signed tracking token: base64url claims, a dot, \
                                      base64url of the 32-byte HMAC-SHA256",
                      "schema": { "type": "string",
                                  "maxLength": bidgate::events::token::MAX_TOKEN_CHARS,
                                  "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$" } },
                    { "name": "pixel", "in": "query", "required": false,
                      "description": "1: answer with a 1×1 GIF", "schema": { "type": "string", "enum": ["1"] } },
                    api_key
                ],
                "responses": events } },
            "/healthz": { "get": { "operationId": "healthz", "summary": "Liveness",
                "responses": { "200": text("ok") } } },
            "/readyz": { "get": { "operationId": "readyz", "summary": "Readiness",
                "responses": { "200": text("ready"),
                               "503": text("warming partner connections, or draining") } } },
            "/metrics": { "get": { "operationId": "metrics", "summary": "Prometheus metrics",
                "security": [{}, { "bearer": [] }, { "basic": [] }], "responses": metrics } },
            "/admin": { "get": { "operationId": "adminPage", "summary": "The status page",
                "security": admin, "responses": page } },
            "/admin/status": { "get": { "operationId": "adminStatus",
                "summary": "The status as JSON", "security": admin, "responses": status } },
            "/admin/reload": { "post": { "operationId": "adminReload",
                "summary": "Re-read the config file", "security": admin, "responses": reload } }
        },
        "components": {
            "schemas": schemas,
            "parameters": { "X-Api-Key": { "name": "X-Api-Key", "in": "header", "required": false,
                "description": "a [[clients]] entry's key: that client's own rate limit",
                "schema": { "type": "string" } } },
            "headers": { "Retry-After": { "required": true,
                "description": "seconds to wait", "schema": { "type": "string", "pattern": "^[0-9]+$" } } },
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "admin.token" },
                "basic": { "type": "http", "scheme": "basic",
                           "description": "any user name, admin.token as the password" }
            }
        }
    })
}

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json")
}

#[test]
fn openapi_schema_is_up_to_date() {
    let doc = document();
    let path = committed_path();
    if std::env::var("BIDGATE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    assert!(
        committed == doc,
        "schemas/openapi.json is out of date; run `BIDGATE_BLESS=1 cargo nextest run --test api \
         -E 'test(/schema_is_up_to_date/)'` and commit it"
    );
}

/// A request for each documented operation that reaches its handler.
fn example(path: &str) -> (String, Option<&'static str>) {
    match path {
        "/openrtb2/auction" => (path.into(), Some(bidgate::demo::FIXTURE)),
        "/v1/ads" => (path.into(), Some(bidgate::demo::ADS_FIXTURE)),
        "/v1/events/{kind}" => ("/v1/events/impression?t=not-a-token".into(), None),
        _ => (path.into(), None),
    }
}

#[tokio::test]
async fn every_documented_operation_answers_a_documented_status() {
    let doc = document();
    let config = bidgate::demo::CONFIG.replace("127.0.0.1:8080", "127.0.0.1:0");
    let config = format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n{config}");
    let app = spawn_app(&config).await;
    let client = reqwest::Client::new();
    let mut asked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let (url, body) = example(path);
            let url = format!("http://{}{url}", app.addr);
            let req = match method.as_str() {
                "get" => client.get(&url),
                "post" => client.post(&url),
                m => panic!("{path}: method {m} not exercised"),
            }
            .bearer_auth(ADMIN_TOKEN);
            let req = match body {
                Some(b) => req.header("content-type", "application/json").body(b),
                None => req,
            };
            let status = req.send().await.unwrap().status();
            assert_ne!(status, 404, "{method} {path}: no such route");
            assert!(
                op["responses"].get(status.as_str()).is_some(),
                "{method} {path} answered {status}, which the document does not list"
            );
            asked += 1;
        }
    }
    assert_eq!(asked, 9, "every operation asked");
}

/// A documented path asked with another method gets 405 naming the one it serves (it used to
/// be a 404, as if the path did not exist: schemathesis's `unsupported_method` check).
#[tokio::test]
async fn a_documented_path_with_another_method_gets_405_with_allow() {
    let config = bidgate::demo::CONFIG.replace("127.0.0.1:8080", "127.0.0.1:0");
    let app = spawn_app(&format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\n{config}")).await;
    let client = reqwest::Client::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        let served = item
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .to_uppercase();
        let path = path.replace("{kind}", "impression");
        for other in ["GET", "POST", "PUT", "DELETE", "TRACE"] {
            if other == served {
                continue;
            }
            let method = reqwest::Method::from_bytes(other.as_bytes()).unwrap();
            let resp = client
                .request(method, format!("http://{}{path}", app.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 405, "{other} {path}");
            assert_eq!(resp.headers()["allow"], served.as_str(), "{other} {path}");
        }
    }
    // An unknown path is still a 404.
    assert_eq!(app.get("/v2/nothing").await.status(), 404);
}
