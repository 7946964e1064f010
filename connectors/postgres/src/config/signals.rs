//! Signals and incremental snapshots: `signal.data.collection`, `signal.enabled.channels`
//! and `incremental.snapshot.chunk.size`, read as Debezium reads them.

use tributary_core::config::PropertyReader;

use super::TableId;

/// Where signals may come from and how incremental snapshots read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalSettings {
    /// `signal.data.collection`: the signal table (`schema.table`). Its inserts are read
    /// from the stream as signals, and incremental snapshots write their watermarks to it.
    pub table: Option<TableId>,
    /// `source` in `signal.enabled.channels`: inserts into the signal table are signals.
    pub source: bool,
    /// `rest` in `signal.enabled.channels` (Tributary's channel): `POST
    /// /connectors/{name}/signals`.
    pub rest: bool,
    /// `incremental.snapshot.chunk.size`: rows per chunk (per thread).
    pub chunk_size: usize,
    /// `snapshot.new.tables=parallel`: tables a config change adds to the publication are
    /// snapshotted incrementally while the others stream.
    pub new_tables: bool,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            table: None,
            source: true,
            rest: true,
            chunk_size: 1024,
            new_tables: false,
        }
    }
}

/// The channels Debezium has that Tributary does not, and why.
const OTHER_CHANNELS: &[(&str, &str)] = &[
    (
        "kafka",
        "the Kafka signal channel is not supported yet; send signals through the signal table (source) or POST /connectors/{name}/signals (rest)",
    ),
    (
        "jmx",
        "Tributary has no JMX; send signals through POST /connectors/{name}/signals (rest)",
    ),
    (
        "file",
        "the file signal channel is not supported; send signals through POST /connectors/{name}/signals (rest)",
    ),
    (
        "in-process",
        "the in-process channel is for Java code embedding Debezium; send signals through POST /connectors/{name}/signals (rest)",
    ),
];

impl SignalSettings {
    pub(super) fn parse(r: &mut PropertyReader<'_>) -> SignalSettings {
        let mut s = SignalSettings::default();
        if let Some(spec) = r.get("signal.data.collection").map(str::to_string) {
            match spec.split_once('.') {
                Some((schema, table))
                    if !schema.is_empty() && !table.is_empty() && !table.contains('.') =>
                {
                    s.table = Some(TableId::new(schema, table));
                }
                _ => r.error(
                    "signal.data.collection",
                    format!("{spec:?} is not a table name; write <schema>.<table>, e.g. public.debezium_signal"),
                ),
            }
        }
        if let Some(spec) = r.get("signal.enabled.channels").map(str::to_string) {
            let (mut source, mut rest) = (false, false);
            for channel in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                match channel {
                    "source" => source = true,
                    "rest" => rest = true,
                    other => {
                        let why = OTHER_CHANNELS
                            .iter()
                            .find(|(name, _)| *name == other)
                            .map(|(_, why)| (*why).to_string())
                            .unwrap_or_else(|| {
                                format!("{other:?} is not a signal channel; the channels are source and rest")
                            });
                        r.error("signal.enabled.channels", why);
                    }
                }
            }
            (s.source, s.rest) = (source, rest);
        }
        s.new_tables = r.choice(
            "snapshot.new.tables",
            false,
            &[("off", false), ("parallel", true)],
        );
        if s.new_tables && s.table.is_none() {
            r.error(
                "snapshot.new.tables",
                "parallel snapshots new tables incrementally, which needs a signal table for its watermarks: set signal.data.collection",
            );
        }
        s.chunk_size = r.parse::<usize>(
            "incremental.snapshot.chunk.size",
            1024,
            "a positive integer",
        );
        if s.chunk_size == 0 {
            r.error("incremental.snapshot.chunk.size", "must be at least 1");
            s.chunk_size = 1;
        }
        s
    }
}
