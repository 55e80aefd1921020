//! Reading a config: TOML text → env overrides → typed `Config` → semantic checks.

use super::Config;
use std::fmt;
use std::path::Path;

/// One thing wrong with a config, with the key path it is about (`partners[1].timeout_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The prefix of environment overrides: `BIDGATE_AUCTION__DEFAULT_TMAX_MS=250` sets
/// `auction.default_tmax_ms`; `BIDGATE_PARTNERS__0__TIMEOUT_MS=90` indexes into an array.
const ENV_PREFIX: &str = "BIDGATE_";

/// Reads a config file and applies `BIDGATE_…__…` overrides from the process environment.
pub fn load_file(path: &Path) -> Result<Config, Vec<Problem>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![Problem::new(path.display().to_string(), e.to_string())])?;
    from_toml_str(&text, std::env::vars())
}

/// Parses config text, applying the given environment overrides (pass `[]` for none).
pub fn from_toml_str(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, Vec<Problem>> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!("line {}", text[..s.start].lines().count().max(1)))
            .unwrap_or_else(|| "(file)".into());
        vec![Problem::new(at, e.message().trim().to_string())]
    })?;

    let mut problems = Vec::new();
    for (name, value) in env {
        if let Err(p) = apply_env(&mut table, &name, &value) {
            problems.push(p);
        }
    }

    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| {
        unknown.push(Problem::new(ignored_path(&path), "unknown key"));
    };
    let de = serde_ignored::Deserializer::new(table, &mut on_unknown);
    let parsed: Result<Config, _> = serde_path_to_error::deserialize(de);
    problems.append(&mut unknown);
    match parsed {
        Err(e) => {
            let path = match e.path().to_string().as_str() {
                "." => "(top level)".to_string(),
                p => p.to_string(),
            };
            problems.push(Problem::new(path, e.inner().message().trim().to_string()));
            Err(problems)
        }
        Ok(config) => {
            problems.extend(validate(&config));
            if problems.is_empty() {
                Ok(config)
            } else {
                Err(problems)
            }
        }
    }
}

/// Formats serde_ignored's path like serde_path_to_error does: `partners[0].timout_ms`.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        P::Map { parent, key } => match ignored_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

fn apply_env(table: &mut toml::Table, name: &str, raw: &str) -> Result<(), Problem> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if keys.len() < 2 || keys.iter().any(String::is_empty) {
        return Ok(()); // not an override (e.g. BIDGATE_LOG)
    }
    let at = |msg: &str| Problem::new(format!("env {name}"), msg.to_string());
    // A value is read as a TOML literal (250, true, "x", [1, 2]); anything else is a string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));

    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_path(&mut root, &keys, value).map_err(|m| at(&m));
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

/// Sets `keys` (table keys or array indices) to `value`, creating missing tables.
fn set_path(root: &mut toml::Value, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().expect("at least one key");
    let mut node = root;
    for key in parents {
        node = match node {
            toml::Value::Table(t) => t
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(a) => {
                let idx: usize = key
                    .parse()
                    .map_err(|_| format!("`{key}` is not an array index"))?;
                a.get_mut(idx)
                    .ok_or_else(|| format!("index {idx} is past the end of the array"))?
            }
            _ => return Err(format!("`{key}` is inside a value, not a table")),
        };
    }
    match node {
        toml::Value::Table(t) => {
            t.insert(last.clone(), value);
            Ok(())
        }
        _ => Err("the parent key is not a table".into()),
    }
}

/// Semantic checks that the types alone cannot express. Returns every problem found.
pub(crate) fn validate(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    let a = &c.auction;
    if c.server.max_request_bytes == 0 {
        p.push(Problem::new("server.max_request_bytes", "must be > 0"));
    }
    if a.default_tmax_ms == 0 {
        p.push(Problem::new("auction.default_tmax_ms", "must be > 0"));
    }
    if a.default_tmax_ms > a.max_tmax_ms {
        p.push(Problem::new(
            "auction.default_tmax_ms",
            format!("must be <= auction.max_tmax_ms ({})", a.max_tmax_ms),
        ));
    }
    if a.max_tmax_ms <= a.network_buffer_ms + a.processing_reserve_ms {
        p.push(Problem::new(
            "auction.max_tmax_ms",
            "must be larger than network_buffer_ms + processing_reserve_ms, or no partner ever gets time",
        ));
    }
    if !is_currency_code(&a.currency) {
        p.push(Problem::new(
            "auction.currency",
            format!(
                "`{}` is not an ISO-4217 code (three capital letters)",
                a.currency
            ),
        ));
    }
    if !(a.second_price_increment.is_finite() && (0.0..=1000.0).contains(&a.second_price_increment))
    {
        p.push(Problem::new(
            "auction.second_price_increment",
            "must be a number between 0 and 1000",
        ));
    }
    if c.http_client.max_response_bytes == 0 {
        p.push(Problem::new(
            "http_client.max_response_bytes",
            "must be > 0",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, partner) in c.partners.iter().enumerate() {
        let key = |k: &str| format!("partners[{i}].{k}");
        if !is_partner_id(&partner.id) {
            p.push(Problem::new(
                key("id"),
                "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
            ));
        } else if !seen.insert(partner.id.as_str()) {
            p.push(Problem::new(
                key("id"),
                format!("`{}` is used by another partner", partner.id),
            ));
        }
        match reqwest::Url::parse(&partner.endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => p.push(Problem::new(key("endpoint"), "must be an http(s) URL")),
            Err(e) => p.push(Problem::new(key("endpoint"), format!("invalid URL: {e}"))),
        }
        if partner.timeout_ms == 0 {
            p.push(Problem::new(key("timeout_ms"), "must be > 0"));
        }
    }
    p
}

pub(crate) fn is_currency_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_partner_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
