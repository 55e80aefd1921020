//! bidgate's node in the supply chain (OpenRTB 2.6 §3.2.25, the IAB SupplyChain object):
//! "the last node represents the entity sending this bid request", so every request bidgate
//! forwards ends with its own node, and `/v1/ads` requests name their publisher.

use crate::config::SupplyChainConfig;
use crate::openrtb::Members;
use serde_json::{Map, Value, json};

/// Appends bidgate's node (`asi`, `sid`, `rid` = the request id, `hp = 1`: bidgate is paid
/// through this request) to `source.schain`, when `[supply_chain]` is configured.
///
/// - The caller's chain is read from `source.schain` (2.6), or from `source.ext.schain`
///   (2.5, where Prebid and older exchanges put it), and leaves in `source.schain` only.
/// - `complete` stays 1 only when the caller's chain was complete: one incomplete hop
///   upstream makes the whole chain incomplete.
/// - A request without a chain gets a new one (`ver "1.0"`) with bidgate's node alone and
///   `complete = 1`: bidgate's callers are the publishers whose inventory it sells (its
///   `sellers.json` lists them under `sid`), so bidgate is the first seller. An intermediary
///   in front of bidgate must send its own chain, as §3.2.25 asks of every seller; its
///   chain then decides `complete`.
/// - A chain that is not an object with a `nodes` array cannot be extended honestly: it is
///   replaced by bidgate's node with `complete = 0`.
pub fn supply_chain(rest: &mut Members, request_id: &str, cfg: &SupplyChainConfig) {
    let (Some(asi), Some(sid)) = (&cfg.asi, &cfg.sid) else {
        return;
    };
    let node = json!({ "asi": asi, "sid": sid, "rid": request_id, "hp": 1 });
    let source = match rest.get_mut("source") {
        Some(Value::Object(source)) => source,
        _ => {
            rest.insert("source".into(), Value::Object(Map::new()));
            match rest.get_mut("source") {
                Some(Value::Object(source)) => source,
                _ => unreachable!("inserted above"),
            }
        }
    };
    let from_ext = match source.get_mut("ext") {
        Some(Value::Object(ext)) => {
            let chain = ext.remove("schain");
            if ext.is_empty() {
                source.remove("ext");
            }
            chain
        }
        _ => None,
    };
    let incoming = source.remove("schain").or(from_ext);
    let chain = match incoming {
        None => json!({ "ver": "1.0", "complete": 1, "nodes": [node] }),
        Some(Value::Object(mut chain)) if chain.get("nodes").is_some_and(Value::is_array) => {
            let complete = chain.get("complete").and_then(Value::as_i64) == Some(1);
            chain.insert("complete".into(), i64::from(complete).into());
            if !chain.contains_key("ver") {
                chain.insert("ver".into(), "1.0".into());
            }
            if let Some(Value::Array(nodes)) = chain.get_mut("nodes") {
                nodes.push(node);
            }
            Value::Object(chain)
        }
        Some(_) => json!({ "ver": "1.0", "complete": 0, "nodes": [node] }),
    };
    source.insert("schain".into(), chain);
}

/// `/v1/ads`: the app's publisher, as `[supply_chain] publisher_id`/`publisher_name` name it
/// (buyers match it against app-ads.txt and sellers.json). Nothing when neither is set.
pub fn publisher(rest: &mut Members, cfg: &SupplyChainConfig) {
    let mut publisher = Map::new();
    if let Some(id) = &cfg.publisher_id {
        publisher.insert("id".into(), id.as_str().into());
    }
    if let Some(name) = &cfg.publisher_name {
        publisher.insert("name".into(), name.as_str().into());
    }
    if publisher.is_empty() {
        return;
    }
    if let Some(Value::Object(app)) = rest.get_mut("app") {
        app.insert("publisher".into(), Value::Object(publisher));
    }
}
