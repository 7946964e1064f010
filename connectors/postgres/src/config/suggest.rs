//! The error for a property nobody defines, naming the closest known one.

use super::{PROPERTIES, debezium};

/// The error for a property nobody defines: most often a typo, so the closest known name
/// is offered.
pub(super) fn unknown_property(key: &str) -> String {
    let names = PROPERTIES
        .iter()
        .map(|p| p.name)
        .chain(debezium::DEBEZIUM_ONLY.iter().map(|(n, _)| *n));
    let closest = names
        .map(|n| (edit_distance(key, n), n))
        .min()
        .filter(|(d, _)| *d <= 3 || *d * 4 <= key.len());
    match closest {
        Some((_, name)) => format!(
            "is not a property of the Postgres connector (nor of Debezium's); did you mean {name}?"
        ),
        None => "is not a property of the Postgres connector (nor of Debezium's); check its spelling or remove it".into(),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
