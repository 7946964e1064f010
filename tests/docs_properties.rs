//! The property tables of `docs/` are the code's: each block between
//! `<!-- generated: NAME -->` and `<!-- end generated -->` must be exactly what this test
//! renders from the property definitions `GET /connector-plugins/{class}/config` serves
//! (and, for Debezium's properties Tributary does not define, from how each is treated).
//! A property added, removed or re-documented in the code fails this test until the docs
//! follow: `UPDATE_DOCS=1 cargo nextest run --test docs_properties` rewrites the blocks.
//! Every example configuration of `docs/converters-and-transforms.md` must be accepted.

use std::path::Path;

use tributary_core::config::PropertyDef;
use tributary_postgres::config::debezium::{DEBEZIUM_ONLY, Treatment};

/// One cell of a Markdown table: pipes escaped, lines joined.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn properties_table(defs: &[&PropertyDef]) -> String {
    let mut out = String::from(
        "| property | type | default | importance | description |\n|---|---|---|---|---|\n",
    );
    for p in defs {
        let default = match p.default {
            _ if p.required => "(required)".to_string(),
            Some("") => "(empty)".to_string(),
            Some(d) => format!("`{}`", cell(d)),
            None => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            p.name,
            p.kind.as_str(),
            default,
            p.importance.as_str(),
            cell(p.documentation)
        ));
    }
    out
}

fn debezium_only_table() -> String {
    let mut out = String::from("| Debezium property | treatment | why |\n|---|---|---|\n");
    let mut rows: Vec<_> = DEBEZIUM_ONLY.iter().collect();
    rows.sort_by_key(|(name, _)| *name);
    for (name, treatment) in rows {
        let (what, why) = match treatment {
            Treatment::NotApplicable(why) => ("accepted with a warning".to_string(), *why),
            Treatment::OnlyValues(values, why) => {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| {
                        if v.is_empty() {
                            "empty".into()
                        } else {
                            format!("`{v}`")
                        }
                    })
                    .collect();
                (
                    format!("accepted at {}; other values refused", values.join(" or ")),
                    *why,
                )
            }
        };
        out.push_str(&format!("| `{name}` | {what} | {} |\n", cell(why)));
    }
    out
}

/// Every generated block: (file under docs/, block name, its text).
fn blocks() -> Vec<(&'static str, &'static str, String)> {
    let all = |defs: &'static [PropertyDef]| defs.iter().collect::<Vec<_>>();
    vec![
        (
            "configuration.md",
            "postgres",
            properties_table(&all(tributary_postgres::config::PROPERTIES)),
        ),
        ("configuration.md", "debezium-only", debezium_only_table()),
        (
            "sink-jobs.md",
            "sink-job",
            properties_table(&all(tributary_kafka::job::JOB_PROPERTIES)),
        ),
        (
            "sink-jobs.md",
            "search",
            properties_table(&all(tributary_search::PROPERTIES)),
        ),
        (
            "sink-jobs.md",
            "redis",
            properties_table(&all(tributary_cache::PROPERTIES)),
        ),
    ]
}

#[test]
fn the_docs_property_tables_are_the_codes() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let update = std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, name, table) in blocks() {
        let path = docs.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let start_marker = format!("<!-- generated: {name} -->\n");
        let end_marker = "<!-- end generated -->";
        let Some(start) = text.find(&start_marker).map(|i| i + start_marker.len()) else {
            panic!("docs/{file} has no {start_marker:?} block");
        };
        let end = start
            + text[start..]
                .find(end_marker)
                .unwrap_or_else(|| panic!("docs/{file}: block {name} is not closed"));
        if text[start..end] == table {
            continue;
        }
        if update {
            let updated = format!("{}{table}{}", &text[..start], &text[end..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            stale.push(format!("docs/{file} ({name})"));
        }
    }
    assert!(
        stale.is_empty(),
        "these property tables differ from the code: {}\nHINT: UPDATE_DOCS=1 cargo nextest run --test docs_properties rewrites them",
        stale.join(", ")
    );
}

/// Every example of `docs/converters-and-transforms.md` is a configuration the daemon
/// accepts: each ```json block, read as connector properties, parses without an error.
#[test]
fn the_converter_and_transform_examples_are_accepted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/converters-and-transforms.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut examples = 0;
    for block in text.split("```json\n").skip(1) {
        let body = block.split("```").next().unwrap();
        let props: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{{}}}", body.trim().trim_end_matches(',')))
                .unwrap_or_else(|e| panic!("not properties ({e}):\n{body}"));
        let props: std::collections::BTreeMap<String, String> = props
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let mut found = tributary_connect::config::Findings::default();
        tributary_connect::Pipeline::parse(&props, &Default::default(), &mut found);
        assert!(
            found.errors.is_empty(),
            "an example is refused: {:?}\n{body}",
            found.errors
        );
        examples += 1;
    }
    assert!(examples >= 10, "only {examples} examples");
}
