//! Reading a catalog: JSON or TOML text → unknown keys reported → typed line items →
//! semantic checks. Every problem is reported with its path, all at once, so that ops fix a
//! file in one round. A catalog with any problem is refused whole: a reload should keep
//! serving the catalog it has.

use super::catalog::{Campaign, CatalogFile, LineItem};
use super::validate::{self, Terms};
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// One thing wrong with a catalog, with the path it is about
/// (`line_items[3].targeting.countries[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProblem {
    pub path: String,
    pub message: String,
}

impl CatalogProblem {
    pub(super) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CatalogProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Toml,
}

/// A checked catalog: every line item's dates, prices and goals are valid, ids are unique
/// and campaigns exist. Only `Catalog::parse`, `load_file` and `new` make one.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(super) file: CatalogFile,
    /// Parsed terms of `file.line_items`, same order.
    pub(super) terms: Vec<Terms>,
}

impl Catalog {
    /// Reads a catalog file; `.json` is JSON, `.toml` TOML.
    pub fn load_file(path: &Path) -> Result<Catalog, Vec<CatalogProblem>> {
        let at = || path.display().to_string();
        let syntax = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Syntax::Json,
            Some("toml") => Syntax::Toml,
            _ => {
                return Err(vec![CatalogProblem::new(
                    at(),
                    "a catalog file name must end in .json or .toml",
                )]);
            }
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![CatalogProblem::new(at(), e.to_string())])?;
        Catalog::parse(&text, syntax)
    }

    /// Parses and checks catalog text.
    pub fn parse(text: &str, syntax: Syntax) -> Result<Catalog, Vec<CatalogProblem>> {
        let mut root = match syntax {
            Syntax::Json => serde_json::from_str::<Value>(text).map_err(|e| {
                vec![CatalogProblem::new(
                    format!("line {}", e.line()),
                    e.to_string(),
                )]
            })?,
            Syntax::Toml => {
                let table: toml::Table = toml::from_str(text).map_err(|e| {
                    let at = e
                        .span()
                        .map(|s| format!("line {}", text[..s.start].matches('\n').count() + 1))
                        .unwrap_or_else(|| "(file)".into());
                    vec![CatalogProblem::new(at, e.message().trim().to_string())]
                })?;
                toml_to_json(toml::Value::Table(table))
            }
        };
        let mut problems = Vec::new();
        let schema = Catalog::json_schema();
        strip_unknown(&schema, &schema, &mut root, "", &mut problems);
        let Value::Object(mut top) = root else {
            problems.push(CatalogProblem::new("(top level)", "must be a table"));
            return Err(problems);
        };
        // Item by item, so that one line item's type error does not hide the others'.
        let campaigns: Vec<Option<Campaign>> =
            typed_list(top.remove("campaigns"), "campaigns", &mut problems);
        let items: Vec<Option<LineItem>> =
            typed_list(top.remove("line_items"), "line_items", &mut problems);
        Catalog::checked(campaigns, items, problems)
    }

    /// Checks a catalog built in code (tests, benchmarks, generated catalogs).
    pub fn new(file: CatalogFile) -> Result<Catalog, Vec<CatalogProblem>> {
        let campaigns = file.campaigns.into_iter().map(Some).collect();
        let items = file.line_items.into_iter().map(Some).collect();
        Catalog::checked(campaigns, items, Vec::new())
    }

    /// The semantic checks; `None` entries did not parse (already reported).
    fn checked(
        campaigns: Vec<Option<Campaign>>,
        items: Vec<Option<LineItem>>,
        mut problems: Vec<CatalogProblem>,
    ) -> Result<Catalog, Vec<CatalogProblem>> {
        let terms = validate::catalog(&campaigns, &items, &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Catalog {
            file: CatalogFile {
                campaigns: campaigns.into_iter().flatten().collect(),
                line_items: items.into_iter().flatten().collect(),
            },
            terms: terms.into_iter().flatten().collect(),
        })
    }

    pub fn campaigns(&self) -> &[Campaign] {
        &self.file.campaigns
    }

    pub fn line_items(&self) -> &[LineItem] {
        &self.file.line_items
    }

    /// Placement ids the catalog targets that `known` does not know: the catalog cannot
    /// tell by itself, the gateway's config can (a typo there would never serve).
    pub fn unknown_placements(&self, known: impl Fn(&str) -> bool) -> Vec<CatalogProblem> {
        let mut out = Vec::new();
        for (i, li) in self.file.line_items.iter().enumerate() {
            let Some(ids) = &li.targeting.placements else {
                continue;
            };
            for (j, id) in ids.iter().enumerate() {
                if !known(id) {
                    out.push(CatalogProblem::new(
                        format!("line_items[{i}].targeting.placements[{j}]"),
                        format!("`{id}` is not a configured placement"),
                    ));
                }
            }
        }
        out
    }

    /// The JSON Schema of the file format (`schemas/catalog.schema.json`).
    pub fn json_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(CatalogFile)).expect("schema serialises")
    }
}

/// Deserialises each element of a top-level array on its own.
fn typed_list<T: serde::de::DeserializeOwned>(
    value: Option<Value>,
    key: &str,
    problems: &mut Vec<CatalogProblem>,
) -> Vec<Option<T>> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push(CatalogProblem::new(key, "must be an array of tables"));
            return Vec::new();
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_path_to_error::deserialize(v)
                .map_err(|e| {
                    let path = match e.path().to_string().as_str() {
                        "." => format!("{key}[{i}]"),
                        p => format!("{key}[{i}].{p}"),
                    };
                    problems.push(CatalogProblem::new(path, e.inner().to_string()));
                })
                .ok()
        })
        .collect()
}

/// TOML → JSON values; TOML's own date-times become their RFC 3339 text, so `start =
/// 2026-12-01T00:00:00Z` works quoted or not.
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Reports and removes every key the schema does not know, with its path, before the typed
/// parse: serde would stop at the first, and ops should see all their typos at once.
fn strip_unknown(
    root: &Value,
    schema: &Value,
    value: &mut Value,
    path: &str,
    problems: &mut Vec<CatalogProblem>,
) {
    match value {
        Value::Object(map) => {
            let mut props = serde_json::Map::new();
            collect(root, schema, 0, &mut |s| {
                if let Some(p) = s.get("properties").and_then(Value::as_object) {
                    for (k, v) in p {
                        props.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            });
            if props.is_empty() {
                return; // not an object in the schema: the typed parse reports it
            }
            let unknown: Vec<String> = map
                .keys()
                .filter(|k| !props.contains_key(*k))
                .cloned()
                .collect();
            for k in unknown {
                map.remove(&k);
                problems.push(CatalogProblem::new(join(path, &k), "unknown key"));
            }
            for (k, v) in map.iter_mut() {
                strip_unknown(root, &props[k], v, &join(path, k), problems);
            }
        }
        Value::Array(items) => {
            let mut item_schema = None;
            collect(root, schema, 0, &mut |s| {
                if item_schema.is_none() {
                    item_schema = s.get("items").cloned();
                }
            });
            if let Some(s) = item_schema {
                for (i, v) in items.iter_mut().enumerate() {
                    strip_unknown(root, &s, v, &format!("{path}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Visits `schema` and everything it stands for: `$ref` targets and the members of
/// `allOf`/`anyOf`/`oneOf` (an `Option` or an enum of tables has its keys in those).
fn collect(root: &Value, schema: &Value, depth: u32, f: &mut dyn FnMut(&Value)) {
    if depth > 8 {
        return;
    }
    f(schema);
    if let Some(target) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|n| root["$defs"].get(n))
    {
        collect(root, target, depth + 1, f);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for member in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect(root, member, depth + 1, f);
        }
    }
}
