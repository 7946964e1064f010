//! Debezium's column reselector (`post.processors`): before a created or updated row is
//! emitted, its value columns that hold NULL or the unavailable-value placeholder (an
//! unchanged TOASTed value) are read again from the table by key, as Debezium's
//! `ReselectColumnsPostProcessor` reads them: the row's current state, through the
//! connector's SQL connection, converted as a snapshot row's values are.
//!
//! A lookup that fails, or finds no row (deleted since), leaves the values as they were
//! with a warning; with `reselect.error.handling.mode=fail` it is an error of the event,
//! which `event.processing.failure.handling.mode` handles.

use tokio_postgres::SimpleQueryMessage;
use tributary_core::Value;

use super::{ChangeStream, cells};
use crate::config::{Reselector, quote_ident};
use crate::pgoutput::TupleData;
use crate::table::{Cell, RowError, TableState};

impl ChangeStream {
    /// Applies every configured reselector, in order, to `after`, the value of a created
    /// or updated row whose tuple is `new`.
    pub(super) async fn reselect(
        &self,
        state: &TableState,
        new: &TupleData,
        after: &mut Value,
    ) -> Result<(), RowError> {
        for reselector in &self.config.reselectors {
            let targets = state.reselect_targets(after, reselector);
            if targets.is_empty() {
                continue;
            }
            let failed = |message: String| {
                if reselector.fail_on_error {
                    return Err(RowError::Reselect {
                        table: state.id.clone(),
                        message,
                    });
                }
                tracing::warn!(table = %state.id, post_processor = %reselector.name, "{message}");
                Ok(())
            };
            let Some(sql) = lookup_sql(state, reselector, new, &targets) else {
                failed(
                    "the row has no key to look it up by, so its columns cannot be re-selected"
                        .into(),
                )?;
                continue;
            };
            let row = match self.client.simple_query(&sql).await {
                Ok(messages) => messages.into_iter().find_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(row),
                    _ => None,
                }),
                Err(e) => {
                    failed(format!("failed to re-select columns: {e}"))?;
                    continue;
                }
            };
            let Some(row) = row else {
                failed("failed to find the row to re-select its columns (deleted since)".into())?;
                continue;
            };
            let Value::Struct(values) = after else {
                continue;
            };
            for (i, &(wire, at, _)) in targets.iter().enumerate() {
                values[at] = state.reselected_value(wire, row.get(i))?;
            }
        }
        Ok(())
    }
}

/// `SELECT <targets> FROM <table> WHERE <key> = <its value in new> AND …`, or `None` when
/// the lookup columns are none or not all in `new`.
fn lookup_sql(
    state: &TableState,
    reselector: &Reselector,
    new: &TupleData,
    targets: &[(usize, usize, &str)],
) -> Option<String> {
    let keys = state.lookup_columns(reselector.use_event_key);
    if keys.is_empty() {
        return None;
    }
    let texts: Vec<Cell<'_>> = cells(new).collect();
    let mut conditions = Vec::with_capacity(keys.len());
    for &k in keys {
        let Some(Cell::Text(text)) = texts.get(k) else {
            return None;
        };
        conditions.push(format!(
            "{} = {}",
            quote_ident(&state.columns[k]),
            sql_literal(text)
        ));
    }
    let columns: Vec<String> = targets.iter().map(|(_, _, c)| quote_ident(c)).collect();
    Some(format!(
        "SELECT {} FROM {} WHERE {}",
        columns.join(", "),
        state.id.quoted(),
        conditions.join(" AND ")
    ))
}

/// A string literal whatever `standard_conforming_strings` is, as Postgres' own
/// `quote_literal` writes it: `E'…'` with backslashes doubled when there is one.
fn sql_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::sql_literal;

    #[test]
    fn literals_survive_quotes_and_backslashes() {
        assert_eq!(sql_literal("it's"), "'it''s'");
        assert_eq!(sql_literal(r"a\'b"), r"E'a\\''b'");
        assert_eq!(sql_literal(""), "''");
    }
}
