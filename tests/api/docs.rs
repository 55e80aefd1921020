//! The documentation's own checks.
//!
//! - `docs/configuration.md` is generated from `schemas/config.schema.json` (which
//!   `tests/api/config.rs` keeps equal to the config types and their doc comments): one section
//!   per config section, a table of key, type, default and description. The test fails when
//!   the committed file differs; `BIDGATE_WRITE_DOCS=1 cargo test --test api docs::` rewrites it.
//! - Every relative link in the Markdown docs points at a file that exists (and, for a
//!   `#fragment` into a Markdown file, at one of its headings).
//! - Every TOML example in `docs/configuration-guide.md` is a valid config.
//! - README's test command is the one `.ci/run` runs.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(project_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The configuration reference, generated from the JSON Schema

const SCHEMA: &str = "schemas/config.schema.json";
const REFERENCE: &str = "docs/configuration.md";
const WRITE_VAR: &str = "BIDGATE_WRITE_DOCS";

#[test]
fn configuration_reference_is_up_to_date() {
    let schema: Value = serde_json::from_str(&read(SCHEMA)).expect("the schema is JSON");
    let generated = config_reference(&schema);
    let path = project_file(REFERENCE);
    if std::env::var(WRITE_VAR).as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == generated {
        return;
    }
    let lines = committed.lines().count().max(generated.lines().count());
    let first_difference = committed
        .lines()
        .map(Some)
        .chain(std::iter::repeat(None))
        .zip(generated.lines().map(Some).chain(std::iter::repeat(None)))
        .take(lines)
        .enumerate()
        .find(|(_, (c, g))| c != g)
        .map(|(i, (c, g))| {
            let end = "(end of file)";
            format!(
                "first difference, line {}:\n  committed: {}\n  generated: {}",
                i + 1,
                c.unwrap_or(end),
                g.unwrap_or(end)
            )
        })
        .unwrap_or_else(|| "the lines are equal: line endings or the final newline differ".into());
    panic!(
        "{REFERENCE} is out of date with {SCHEMA} (it is generated, not written by hand).\n\
         Regenerate it with `{WRITE_VAR}=1 cargo test --test api docs::` and commit the result.\n\
         {first_difference}"
    );
}

/// The text of `docs/configuration.md` for the config schema `root`.
fn config_reference(root: &Value) -> String {
    // Definition name → title of the section that lists its keys.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut sections = Vec::new();
    let props = properties(root);
    // Top-level keys that are not tables (none today) share one section.
    let loose: BTreeSet<String> = props
        .iter()
        .filter(|(_, s)| table_def(root, s).is_none())
        .map(|(k, _)| k.to_string())
        .collect();
    if !loose.is_empty() {
        sections.push(Section {
            depth: 2,
            title: "top level".into(),
            intro: Vec::new(),
            path: String::new(),
            schema: root,
            only: Some(loose),
        });
    }
    // Each table (`[server]`) or array of tables (`[[partners]]`) is a section; the tables
    // its keys hold follow it (`partners[].notices`), unless they are sections themselves.
    let tops: Vec<(&String, &Value, String)> = props
        .iter()
        .filter(|(_, s)| table_def(root, s).is_some())
        .map(|(k, s)| {
            let title = match shape(root, s) {
                Shape::Array(_) => format!("[[{k}]]"),
                _ => format!("[{k}]"),
            };
            (*k, *s, title)
        })
        .collect();
    for (_, s, title) in &tops {
        let (name, _) = table_def(root, s).expect("filtered");
        owners.insert(name.to_string(), title.clone());
    }
    for (key, s, title) in tops {
        let (_, def) = table_def(root, s).expect("filtered");
        let path = match shape(root, s) {
            Shape::Array(_) => format!("{key}[]"),
            _ => key.to_string(),
        };
        let section = Section {
            depth: 2,
            title,
            intro: paragraphs([s, def]),
            path,
            schema: def,
            only: None,
        };
        collect(root, section, &mut owners, &mut sections);
    }

    let mut out = String::from(HEADER);
    for p in paragraphs([root]) {
        writeln!(out, "{p}\n").unwrap();
    }
    out.push_str("Sections:\n\n");
    let mut anchors = BTreeSet::new();
    for s in &sections {
        let a = anchor(&s.title);
        assert!(
            anchors.insert(a.clone()),
            "two sections share the anchor #{a}"
        );
        let indent = "  ".repeat(s.depth - 2);
        writeln!(out, "{indent}- [`{}`](#{a})", s.title).unwrap();
    }
    out.push('\n');
    for s in &sections {
        render(root, s, &owners, &mut out);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

const HEADER: &str = "\
# Configuration reference

<!-- Generated by tests/api/docs.rs from schemas/config.schema.json: do not edit by hand. -->

Every key of the config file, generated from
[`schemas/config.schema.json`](../schemas/config.schema.json), the JSON Schema that
`tests/api/config.rs` keeps equal to the config types in `src/config/` (defaults from the code,
descriptions from its doc comments). **Do not edit this file by hand**: change the doc comment
or the default in the code, then run `BIDGATE_BLESS=1 cargo test --test api schema_is_up_to_date` (rewrites the
schema) and `BIDGATE_WRITE_DOCS=1 cargo test --test api docs::` (rewrites this file), and commit
both. `cargo test --test api docs::` fails while this file and the schema disagree.

How to write a config file, with examples, environment overrides and what applies when:
[configuration-guide.md](configuration-guide.md). A complete commented file:
[`config/example.toml`](../config/example.toml).

In the tables, *required* means the key must be given, *unset* that it is absent unless
given, and *per key* that it is a table whose keys have their own defaults.

";

/// For a key whose type has no doc comment yet: the guide explains every such key.
const NO_DESCRIPTION: &str = "See the [configuration guide](configuration-guide.md).";

struct Section<'a> {
    depth: usize,
    title: String,
    intro: Vec<String>,
    /// The key path of this section's keys (`partners[]`); empty at the top level.
    path: String,
    /// The object schema whose properties are the rows.
    schema: &'a Value,
    /// Only these properties (the top-level keys that are not sections).
    only: Option<BTreeSet<String>>,
}

/// Pushes `section`, then a subsection for each table among its keys that has none yet.
fn collect<'a>(
    root: &'a Value,
    section: Section<'a>,
    owners: &mut BTreeMap<String, String>,
    out: &mut Vec<Section<'a>>,
) {
    let mut subsections = Vec::new();
    for (key, s) in properties(section.schema) {
        let Some((name, def)) = table_def(root, s) else {
            continue;
        };
        if owners.contains_key(name) {
            continue;
        }
        let path = format!("{}.{key}", section.path);
        owners.insert(name.to_string(), path.clone());
        subsections.push(Section {
            depth: section.depth + 1,
            title: path.clone(),
            intro: paragraphs([def]),
            path,
            schema: def,
            only: None,
        });
    }
    out.push(section);
    for s in subsections {
        collect(root, s, owners, out);
    }
}

fn render(root: &Value, s: &Section<'_>, owners: &BTreeMap<String, String>, out: &mut String) {
    writeln!(out, "{} `{}`\n", "#".repeat(s.depth), s.title).unwrap();
    for p in &s.intro {
        writeln!(out, "{p}\n").unwrap();
    }
    out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
    let required: Vec<&str> = s.schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut keys: Vec<(&String, &Value)> = properties(s.schema)
        .into_iter()
        .filter(|(k, _)| s.only.as_ref().is_none_or(|only| only.contains(*k)))
        .collect();
    // Required keys first, in the schema's order; then the others by name.
    keys.sort_by_key(|(k, _)| {
        let rank = required.iter().position(|r| r == k);
        (rank.unwrap_or(required.len()), k.to_string())
    });
    for (key, prop) in keys {
        let shape = shape(root, prop);
        let default = match (required.contains(&key.as_str()), prop.get("default")) {
            (true, _) => "*required*".to_string(),
            (false, None | Some(Value::Null)) => "*unset*".into(),
            (false, Some(_)) if matches!(shape, Shape::Table(_)) => "*per key*".into(),
            (false, Some(v)) => format!("`{}`", toml_value(v)),
        };
        let mut desc = description(prop);
        // An enumeration's own documentation (`Fsync`): the type's, then each value's.
        if let Some(target) = ref_name(prop).map(|n| &root["$defs"][n])
            && target.get("properties").is_none()
        {
            let own = description(target);
            if own != desc {
                desc = join(&desc, &own);
            }
            for v in target["oneOf"].as_array().into_iter().flatten() {
                let d = description(v);
                if let (Some(c), false) = (v["const"].as_str(), d.is_empty()) {
                    desc = join(&desc, &format!("`{c}`: {d}"));
                }
            }
        }
        if desc.is_empty() {
            desc = NO_DESCRIPTION.into();
        }
        writeln!(
            out,
            "| `{key}` | {} | {default} | {} |",
            type_text(&shape, owners),
            desc.replace('|', "\\|")
        )
        .unwrap();
    }
    out.push('\n');
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a.to_string(),
        (true, false) => b.to_string(),
        (false, false) => format!("{a} {b}"),
    }
}

/// The non-empty descriptions of these schemas, each on one line.
fn paragraphs<'a>(schemas: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in schemas.into_iter().map(description) {
        if !d.is_empty() && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// A schema's properties, by name.
fn properties(s: &Value) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = s["properties"]
        .as_object()
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn def<'a>(root: &'a Value, reference: &str) -> &'a Value {
    let name = reference
        .strip_prefix("#/$defs/")
        .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
    root["$defs"]
        .get(name)
        .unwrap_or_else(|| panic!("$ref {reference} names no definition"))
}

/// The definition a schema refers to: directly, or as the one non-null choice of an
/// `anyOf`/`oneOf`/`allOf` (how schemars writes an optional or a documented `$ref`).
fn ref_name(s: &Value) -> Option<&str> {
    if let Some(r) = s["$ref"].as_str() {
        return r.strip_prefix("#/$defs/");
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = s[key].as_array()
            && let [only] = non_null(list).as_slice()
        {
            return ref_name(only);
        }
    }
    None
}

/// The object definition (one with properties) a key holds, directly, optionally or as the
/// items of an array: its name and schema.
fn table_def<'a>(root: &'a Value, s: &'a Value) -> Option<(&'a str, &'a Value)> {
    let holder = match shape(root, s) {
        Shape::Array(_) => &s["items"],
        _ => s,
    };
    let name = ref_name(holder)?;
    let d = &root["$defs"][name];
    d.get("properties").is_some().then_some((name, d))
}

fn non_null(list: &[Value]) -> Vec<&Value> {
    list.iter()
        .filter(|v| v["type"].as_str() != Some("null"))
        .collect()
}

#[derive(Debug)]
enum Shape {
    Scalar(String),
    Enum(Vec<String>),
    Array(Box<Shape>),
    /// A fixed-length array, `[w, h]`.
    Tuple(usize, Box<Shape>),
    /// A table with free keys (`currency.rates`).
    Map(Box<Shape>),
    /// A table with known keys: the name of its definition.
    Table(String),
}

/// What a schema describes (null, as in an optional key, is left out).
fn shape(root: &Value, s: &Value) -> Shape {
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = s[key].as_array() {
            let choices = non_null(list);
            if let [only] = choices.as_slice() {
                return shape(root, only);
            }
            if choices.iter().all(|v| v.get("const").is_some()) {
                return Shape::Enum(choices.iter().map(|v| plain(&v["const"])).collect());
            }
        }
    }
    if let Some(r) = s["$ref"].as_str() {
        let target = def(root, r);
        return match target.get("properties") {
            Some(_) => Shape::Table(ref_name(s).expect("a $ref").to_string()),
            None => shape(root, target),
        };
    }
    if let Some(values) = s["enum"].as_array() {
        return Shape::Enum(values.iter().map(plain).collect());
    }
    let ty = match &s["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => match non_null_types(ts).as_slice() {
            [one] => one,
            _ => "any",
        },
        _ => "any",
    };
    match ty {
        "array" => {
            let item = Box::new(shape(root, &s["items"]));
            match (s["minItems"].as_u64(), s["maxItems"].as_u64()) {
                (Some(a), Some(b)) if a == b => Shape::Tuple(a as usize, item),
                _ => Shape::Array(item),
            }
        }
        "object" => match s.get("additionalProperties") {
            Some(v) if v.is_object() => Shape::Map(Box::new(shape(root, v))),
            _ => Shape::Scalar("table".into()),
        },
        other => Shape::Scalar(other.into()),
    }
}

fn non_null_types(ts: &[Value]) -> Vec<&str> {
    ts.iter()
        .filter_map(Value::as_str)
        .filter(|t| *t != "null")
        .collect()
}

fn type_text(shape: &Shape, owners: &BTreeMap<String, String>) -> String {
    match shape {
        Shape::Scalar(t) => t.clone(),
        Shape::Enum(values) => {
            let v: Vec<String> = values.iter().map(|v| format!("`\"{v}\"`")).collect();
            match v.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => "nothing".into(),
            }
        }
        Shape::Array(item) => match item.as_ref() {
            Shape::Enum(_) => format!("array, each {}", type_text(item, owners)),
            _ => format!("array of {}", type_text(item, owners)),
        },
        Shape::Tuple(n, item) => format!("[{}]", vec![type_text(item, owners); *n].join(", ")),
        Shape::Map(value) => format!("table of {}", type_text(value, owners)),
        Shape::Table(name) => match owners.get(name) {
            Some(title) => format!("table, see [`{title}`](#{})", anchor(title)),
            None => "table".into(),
        },
    }
}

/// A JSON value as it is written in TOML.
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A description on one line: doc comments wrap, table cells cannot.
fn description(s: &Value) -> String {
    let text = s["description"].as_str().unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Links

/// The Markdown files whose relative links are checked.
fn markdown_files() -> Vec<String> {
    let mut files: Vec<String> = ["README.md", "ARCHITECTURE.md", "loadtest/README.md"]
        .map(String::from)
        .to_vec();
    for entry in std::fs::read_dir(project_file("docs")).expect("docs/") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files.sort();
    files
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The targets of inline links `[text](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose_lines(text) {
        // Inline code spans may show link syntax without being links.
        let outside_code: String = line
            .split('`')
            .enumerate()
            .map(|(i, part)| if i % 2 == 0 { part } else { "" })
            .collect::<Vec<_>>()
            .join("``");
        let mut rest = outside_code.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// The anchors GitHub gives the headings of a Markdown text (repeats get `-1`, `-2`, …).
fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in prose_lines(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = anchor(title);
        let n = seen.entry(base.clone()).or_default();
        out.insert(match *n {
            0 => base.clone(),
            k => format!("{base}-{k}"),
        });
        *n += 1;
    }
    out
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        let dir = project_file(&file).parent().unwrap().to_path_buf();
        for target in links(&text) {
            if target.is_empty()
                || target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                project_file(&file)
            } else {
                dir.join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{file}: `{target}`: no such file"));
                continue;
            }
            if let Some(fragment) = fragment
                && resolved.extension().is_some_and(|e| e == "md")
            {
                let anchors = heading_anchors(&std::fs::read_to_string(&resolved).unwrap());
                if !anchors.contains(fragment) {
                    broken.push(format!("{file}: `{target}`: no heading #{fragment} there"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Examples and commands

/// The configuration guide's TOML examples are valid config files (each block on its own).
#[test]
fn the_configuration_guide_examples_are_valid_configs() {
    let guide = read("docs/configuration-guide.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(!blocks.is_empty(), "the guide has TOML examples");
    for block in blocks {
        if let Err(problems) = bidgate::config::from_toml_str(&block, Vec::new()) {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "an example in docs/configuration-guide.md is not a valid config:\n{}\n---\n{block}",
                problems.join("\n")
            );
        }
    }
}

/// README gives the test command CI runs.
#[test]
fn readme_test_command_is_the_one_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    assert!(
        ci.contains("cargo nextest run --locked --workspace"),
        "{ci}"
    );
    assert!(ci.contains("cargo test --locked --workspace"), "{ci}");
    assert!(readme.contains("cargo nextest run --workspace"));
    assert!(readme.contains("cargo test --workspace"));
}

// The privacy table, generated from the one the code applies
// ------------------------------------------------------------

const PRIVACY: &str = "docs/privacy.md";
const TABLE_BEGIN: &str = "<!-- privacy table: begin -->\n";
const TABLE_END: &str = "<!-- privacy table: end -->";

#[test]
fn privacy_table_is_the_code_table() {
    let committed = read(PRIVACY);
    let (before, rest) = committed
        .split_once(TABLE_BEGIN)
        .expect("docs/privacy.md has the table's begin marker");
    let (table, after) = rest
        .split_once(TABLE_END)
        .expect("docs/privacy.md has the table's end marker");
    let generated = bidgate::privacy::table::markdown();
    if std::env::var_os(WRITE_VAR).is_some() {
        let text = format!("{before}{TABLE_BEGIN}{generated}{TABLE_END}{after}");
        std::fs::write(project_file(PRIVACY), text).unwrap();
        return;
    }
    assert!(
        table == generated,
        "the table in {PRIVACY} differs from privacy::table::FIELDS (it is generated, not \
         written by hand); `{WRITE_VAR}=1 cargo test --test api docs::` rewrites it.\n\
         committed:\n{table}\ngenerated:\n{generated}"
    );
}
