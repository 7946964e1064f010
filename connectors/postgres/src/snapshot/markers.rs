//! Debezium's `source.snapshot` markers over rows arriving from parallel chunk readers.

use tributary_core::{ChangeEvent, SnapshotMarker};

/// Debezium's `source.snapshot` markers over rows arriving from parallel chunk readers.
pub(super) struct Markers {
    /// The newest row of each table, not yet sent.
    held: Vec<Option<ChangeEvent>>,
    /// Tables that have had a row.
    started: Vec<bool>,
    any: bool,
    /// A stop cut the snapshot short: its last row is not the snapshot's last.
    pub(super) stopping: bool,
}

impl Markers {
    pub(super) fn new(tables: usize) -> Markers {
        Markers {
            held: vec![None; tables],
            started: vec![false; tables],
            any: false,
            stopping: false,
        }
    }

    /// Takes a row of `table`; returns the row it replaces as that table's newest.
    pub(super) fn row(&mut self, table: usize, mut ev: ChangeEvent) -> Option<ChangeEvent> {
        if !self.any {
            ev.source.snapshot = SnapshotMarker::First;
            self.any = true;
        } else if !self.started[table] {
            ev.source.snapshot = SnapshotMarker::FirstInDataCollection;
        }
        self.started[table] = true;
        self.held[table].replace(ev)
    }

    pub(super) fn holds_any(&self) -> bool {
        self.held.iter().any(Option::is_some)
    }

    /// The held row of `table` (a chunk of it is done), marked as the table's last when
    /// the whole table is. As in Debezium, `last` outranks `first`, and
    /// `last_in_data_collection` outranks `first_in_data_collection` (a table of one row).
    pub(super) fn release(&mut self, table: usize, table_done: bool) -> Option<ChangeEvent> {
        let mut ev = self.held[table].take()?;
        if table_done
            && matches!(
                ev.source.snapshot,
                SnapshotMarker::True | SnapshotMarker::FirstInDataCollection
            )
        {
            ev.source.snapshot = SnapshotMarker::LastInDataCollection;
        }
        Some(ev)
    }

    /// The rows still held at the end. Unless a stop cut the snapshot short, each is its
    /// table's last row, and the last of them the snapshot's.
    pub(super) fn drain(&mut self) -> Vec<ChangeEvent> {
        let done = !self.stopping;
        let mut rest: Vec<ChangeEvent> = (0..self.held.len())
            .filter_map(|table| self.release(table, done))
            .collect();
        if done && let Some(last) = rest.last_mut() {
            last.source.snapshot = SnapshotMarker::Last;
        }
        rest
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tributary_core::{Op, Schema, SourceInfo, TableSchemas};

    use super::*;

    fn row() -> ChangeEvent {
        let value = Schema::structure("t.Value", vec![]);
        ChangeEvent {
            schemas: Arc::new(TableSchemas {
                topic: "t".into(),
                key: None,
                envelope: value.clone(),
                value,
                version: 0,
            }),
            op: Op::Read,
            key: None,
            before: None,
            after: None,
            source: SourceInfo {
                name: "p".into(),
                db: "d".into(),
                schema: "s".into(),
                table: "t".into(),
                ts_us: 0,
                snapshot: SnapshotMarker::True,
                tx_id: None,
                lsn: None,
                sequence: None,
                xmin: None,
            },
            ts_us: 0,
            key_header: None,
        }
    }

    /// Feeds `rows` rows per table, table by table, releasing each table when done (as
    /// the merger does at a round's end); returns the markers in emitted order.
    fn markers(rows: &[usize]) -> Vec<SnapshotMarker> {
        let mut m = Markers::new(rows.len());
        let mut out = Vec::new();
        for (table, n) in rows.iter().enumerate() {
            for _ in 0..*n {
                out.extend(m.row(table, row()));
            }
            let last_table = table + 1 == rows.len();
            if !last_table {
                out.extend(m.release(table, true));
            }
        }
        out.extend(m.drain());
        out.into_iter().map(|e| e.source.snapshot).collect()
    }

    #[test]
    fn markers_rank_as_debeziums_last_first_last_in_first_in() {
        use SnapshotMarker::*;
        assert_eq!(
            markers(&[2, 3, 1, 2]),
            [
                First,
                LastInDataCollection,
                FirstInDataCollection,
                True,
                LastInDataCollection,
                // A table of one row: its last row outranks its first.
                LastInDataCollection,
                FirstInDataCollection,
                Last,
            ]
        );
        // Tables finishing in the same last round are all held to the end.
        let mut m = Markers::new(3);
        let mut out: Vec<ChangeEvent> = Vec::new();
        out.extend(m.row(0, row()));
        out.extend(m.release(0, true));
        for table in [1, 2, 1] {
            out.extend(m.row(table, row()));
        }
        out.extend(m.drain());
        let got: Vec<SnapshotMarker> = out.into_iter().map(|e| e.source.snapshot).collect();
        assert_eq!(
            got,
            [First, FirstInDataCollection, LastInDataCollection, Last]
        );
        // A snapshot of one row: `last` outranks `first`.
        assert_eq!(markers(&[1]), [Last]);
        assert_eq!(markers(&[1, 1]), [First, Last]);
    }
}
