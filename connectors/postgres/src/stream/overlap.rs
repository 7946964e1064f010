//! What a resumed or repeated snapshot already read, so the stream does not repeat it.

use std::collections::{HashMap, HashSet};

use tributary_core::{Lsn, Value};

use crate::table::TableState;

/// Changes a resumed or repeated snapshot already read: transactions committed before
/// `until` (the new snapshot's consistent point) are skipped for these tables, wholly or
/// for the listed keys.
#[derive(Debug, Default)]
pub struct OverlapFilter {
    pub until: Lsn,
    pub tables: HashMap<u32, OverlapScope>,
}

#[derive(Debug)]
pub enum OverlapScope {
    All,
    /// Keys (as canonical JSON) of rows the new snapshot read.
    Keys(HashSet<String>),
}

impl OverlapFilter {
    /// Whether the snapshot holds a change of table `rel_id` (with `key`, when known) in a
    /// transaction that commits at `final_lsn`.
    pub fn holds(
        &self,
        final_lsn: Lsn,
        rel_id: u32,
        key: Option<&Value>,
        state: &TableState,
    ) -> bool {
        if final_lsn >= self.until {
            return false;
        }
        match self.tables.get(&rel_id) {
            None => false,
            Some(OverlapScope::All) => true,
            Some(OverlapScope::Keys(keys)) => {
                key.is_some_and(|k| keys.contains(&key_string(state, k)))
            }
        }
    }
}

/// A canonical string for a key, to compare keys across snapshot and stream.
pub fn key_string(state: &TableState, key: &Value) -> String {
    match &state.schemas.key {
        Some(schema) => tributary_core::json::value_to_json(schema, key).to_string(),
        None => String::new(),
    }
}
