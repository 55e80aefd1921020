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
    pub(super) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
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
    from_toml_str(&text, env_overrides())
}

/// The process's `BIDGATE_…` variables. Others are never read, so an unrelated variable that
/// is not UTF-8 cannot stop the gateway from starting; a `BIDGATE_` one is reported.
pub fn env_overrides() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            k.starts_with(ENV_PREFIX)
                .then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Parses config text, applying the given environment overrides (pass `[]` for none).
pub fn from_toml_str(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, Vec<Problem>> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!("line {}", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_else(|| "(file)".into());
        vec![Problem::new(at, e.message().trim().to_string())]
    })?;

    let mut problems = Vec::new();
    let schema = Config::json_schema();
    for (name, value) in env {
        if let Err(p) = apply_env(&mut table, &schema, &name, &value) {
            problems.push(p);
        }
    }
    // Unknown keys are found by walking the table against the schema, apart from the typed
    // parse, so that one type error cannot hide the typos that come after it.
    let root = toml::Value::Table(table);
    unknown_keys(&schema, &schema, &root, "", &mut problems);
    let toml::Value::Table(mut table) = root else {
        unreachable!("built from a table")
    };
    inherit_partner_sections(&mut table);

    let parsed: Result<Config, _> = serde_path_to_error::deserialize(table);
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
            problems.extend(super::check::validate(&config));
            if problems.is_empty() {
                Ok(config)
            } else {
                Err(problems)
            }
        }
    }
}

/// Sections a partner inherits from the top level and may override key by key.
pub const INHERITED_SECTIONS: [&str; 2] = ["http_client", "circuit_breaker"];

/// `[[partners]] http_client = { connect_timeout_ms = 50 }` overrides that one key of the
/// top-level `[http_client]`; the rest is inherited. Merging here, on the raw table, keeps
/// the typed config free of half-filled `Option` structs.
fn inherit_partner_sections(table: &mut toml::Table) {
    let globals: Vec<(&str, toml::Table)> = INHERITED_SECTIONS
        .iter()
        .filter_map(|s| match table.get(*s) {
            Some(toml::Value::Table(t)) => Some((*s, t.clone())),
            _ => None,
        })
        .collect();
    let Some(toml::Value::Array(partners)) = table.get_mut("partners") else {
        return;
    };
    for partner in partners.iter_mut() {
        let toml::Value::Table(p) = partner else {
            continue;
        };
        for (section, global) in &globals {
            let mut merged = global.clone();
            match p.get(*section) {
                Some(toml::Value::Table(own)) => merged.extend(own.clone()),
                Some(_) => continue, // a type error, reported by the typed parse
                None => {}
            }
            p.insert(section.to_string(), toml::Value::Table(merged));
        }
    }
}

/// Reports every key of `value` that the schema does not know, with its path.
fn unknown_keys(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &toml::Value,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    let schema = resolve(root, schema);
    match value {
        toml::Value::Table(t) => {
            let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else {
                return;
            };
            for (key, v) in t {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match props.get(key) {
                    Some(s) => unknown_keys(root, s, v, &sub, problems),
                    None => problems.push(Problem::new(sub, "unknown key")),
                }
            }
        }
        toml::Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_keys(root, item_schema, v, &format!("{path}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

/// Follows `$ref` (and single-entry `allOf`) within the generated schema.
fn resolve<'a>(root: &'a serde_json::Value, mut s: &'a serde_json::Value) -> &'a serde_json::Value {
    for _ in 0..8 {
        if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
            match r
                .strip_prefix("#/$defs/")
                .and_then(|n| root["$defs"].get(n))
            {
                Some(target) => s = target,
                None => return s,
            }
        } else if let Some([only]) = s.get("allOf").and_then(|a| a.as_array()).map(Vec::as_slice) {
            s = only;
        } else {
            return s;
        }
    }
    s
}

fn apply_env(
    table: &mut toml::Table,
    schema: &serde_json::Value,
    name: &str,
    raw: &str,
) -> Result<(), Problem> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if keys.len() < 2 || keys.iter().any(String::is_empty) {
        return Ok(()); // not an override (e.g. BIDGATE_LOG)
    }
    let at = |msg: &str| Problem::new(format!("env {name}"), msg.to_string());
    // A value is read as a TOML literal (250, true, [1, 2]), unless the key holds text, or
    // the text is no literal: then it is the string as written (`…__ID=1234` is "1234").
    let literal = || {
        toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    let value = match key_type(schema, &keys) {
        Some("string") => toml::Value::String(raw.to_string()),
        _ => literal().unwrap_or_else(|| toml::Value::String(raw.to_string())),
    };

    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_path(&mut root, &keys, value).map_err(|m| at(&m));
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

/// The JSON Schema `type` of the key at `keys` (array indices step into `items`).
fn key_type<'a>(root: &'a serde_json::Value, keys: &[String]) -> Option<&'a str> {
    let mut s = resolve(root, root);
    for key in keys {
        let next = if key.parse::<usize>().is_ok() {
            s.get("items")?
        } else {
            s.get("properties")?.get(key)?
        };
        s = resolve(root, next);
    }
    s.get("type")?.as_str()
}

/// Sets `keys` (table keys or array indices) to `value`, creating missing tables.
fn set_path(root: &mut toml::Value, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().expect("at least one key");
    let mut node = root;
    for (depth, key) in parents.iter().enumerate() {
        node = match node {
            toml::Value::Table(t) => {
                let next_is_index = keys[depth + 1].parse::<usize>().is_ok();
                if next_is_index && !t.contains_key(key) {
                    return Err(format!(
                        "`{key}` has no entries in the file, so index {} is past its end",
                        keys[depth + 1]
                    ));
                }
                t.entry(key.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
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

pub(super) fn is_partner_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
