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
    /// `kafka` in `signal.enabled.channels`: records keyed by `topic.prefix` on
    /// `signal.kafka.topic`.
    pub kafka: Option<KafkaSignals>,
    /// `incremental.snapshot.chunk.size`: rows per chunk (per thread).
    pub chunk_size: usize,
    /// `snapshot.new.tables=parallel`: tables a config change adds to the publication are
    /// snapshotted incrementally while the others stream.
    pub new_tables: bool,
    /// `read.only`: incremental snapshots write no watermark rows (see
    /// `crate::incremental::readonly`), and no channel writes signals to the table.
    pub read_only: bool,
}

/// Debezium's Kafka signal channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSignals {
    /// `signal.kafka.topic` (default `<topic.prefix>-signal`).
    pub topic: String,
    /// `signal.kafka.bootstrap.servers` (default: the daemon's brokers).
    pub bootstrap_servers: Option<String>,
    /// `signal.kafka.groupId` (default `kafka-signal`).
    pub group_id: String,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            table: None,
            source: true,
            rest: true,
            kafka: None,
            chunk_size: 1024,
            new_tables: false,
            read_only: false,
        }
    }
}

/// The channels Debezium has that Tributary does not, and why.
const OTHER_CHANNELS: &[(&str, &str)] = &[
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
    pub(super) fn parse(r: &mut PropertyReader<'_>, topic_prefix: &str) -> SignalSettings {
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
            let (mut source, mut rest, mut kafka) = (false, false, false);
            for channel in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                match channel {
                    "source" => source = true,
                    "rest" => rest = true,
                    "kafka" => kafka = true,
                    other => {
                        let why = OTHER_CHANNELS
                            .iter()
                            .find(|(name, _)| *name == other)
                            .map(|(_, why)| (*why).to_string())
                            .unwrap_or_else(|| {
                                format!("{other:?} is not a signal channel; the channels are source, kafka and rest")
                            });
                        r.error("signal.enabled.channels", why);
                    }
                }
            }
            (s.source, s.rest) = (source, rest);
            s.kafka = kafka.then(|| KafkaSignals {
                topic: r.string("signal.kafka.topic", &format!("{topic_prefix}-signal")),
                bootstrap_servers: r.get("signal.kafka.bootstrap.servers").map(str::to_string),
                group_id: r.string("signal.kafka.groupId", "kafka-signal"),
            });
            // (REST, on by default, answers a signal with a 400 naming the table instead.)
            if s.kafka.is_some() && s.table.is_none() {
                r.error(
                    "signal.enabled.channels",
                    "the kafka channel hands signals to the connector through the signal table: set signal.data.collection",
                );
            }
        }
        s.read_only = r.parse::<bool>("read.only", false, "true or false");
        if s.read_only && s.kafka.is_some() {
            r.error(
                "signal.enabled.channels",
                "the kafka channel hands signals on by writing them to the signal table, which read.only=true forbids: insert signals into the signal table as a user allowed to, or set read.only=false",
            );
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::PostgresConnectorConfig;

    fn parse(extra: serde_json::Value) -> Result<PostgresConnectorConfig, String> {
        let mut config = json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "localhost", "database.user": "postgres",
            "database.dbname": "inventory", "topic.prefix": "cdc",
        });
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        PostgresConnectorConfig::parse("c", config.as_object().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn signal_settings_read_as_debezium_reads_them() {
        let c = parse(json!({
            "signal.data.collection": "public.debezium_signal",
            "signal.enabled.channels": "source,kafka",
            "incremental.snapshot.chunk.size": "10",
        }))
        .unwrap();
        let s = &c.signals;
        assert_eq!(
            s.table.as_ref().unwrap().to_string(),
            "public.debezium_signal"
        );
        assert!(s.source && !s.rest);
        assert_eq!(s.kafka.as_ref().unwrap().topic, "cdc-signal");
        assert_eq!(s.kafka.as_ref().unwrap().group_id, "kafka-signal");
        assert_eq!(s.chunk_size, 10);
        assert!(!s.read_only);
        let read_only = parse(json!({"read.only": "true"})).unwrap();
        assert!(read_only.signals.read_only && read_only.signals.source);
        // The signal table is captured whatever the filters say.
        let only = parse(
            json!({"signal.data.collection": "public.sig", "table.include.list": "public.t"}),
        )
        .unwrap();
        assert!(
            only.filters
                .accepts_table(&super::TableId::new("public", "sig"))
        );

        for (extra, field, says) in [
            (
                json!({"signal.data.collection": "sig"}),
                "signal.data.collection",
                "<schema>.<table>",
            ),
            (
                json!({"signal.enabled.channels": "jmx"}),
                "signal.enabled.channels",
                "no JMX",
            ),
            (
                json!({"signal.enabled.channels": "kafka"}),
                "signal.enabled.channels",
                "set signal.data.collection",
            ),
            (
                json!({"incremental.snapshot.chunk.size": "0"}),
                "incremental.snapshot.chunk.size",
                "at least 1",
            ),
            (
                json!({"snapshot.new.tables": "parallel", "signal.data.collection": "public.s"}),
                "snapshot.new.tables",
                "publication.autocreate.mode=filtered",
            ),
            (
                json!({"read.only": "true", "signal.data.collection": "public.s",
                       "signal.enabled.channels": "source,kafka"}),
                "signal.enabled.channels",
                "read.only=true forbids",
            ),
            (json!({"read.only": "maybe"}), "read.only", "true or false"),
            (
                json!({"incremental.snapshot.watermarking.strategy": "insert_delete"}),
                "incremental.snapshot.watermarking.strategy",
                "insert_insert",
            ),
        ] {
            let err = parse(extra.clone()).unwrap_err();
            assert!(err.contains(field) && err.contains(says), "{extra}: {err}");
        }
    }
}
