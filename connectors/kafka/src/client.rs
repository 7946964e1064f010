//! The librdkafka properties of a client: the daemon's `[kafka]` pass-through, a
//! connector's Kafka Connect overrides (`producer.override.*` for a source's producer, admin
//! client and offsets reader; `consumer.override.*` for a sink job's consumer), Java's
//! `sasl.jaas.config` for PLAIN and SCRAM turned into librdkafka's `sasl.username` and
//! `sasl.password`, and a check that librdkafka knows every property, so a Java-only
//! setting is refused by name instead of failing a client later.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

use crate::settings::{KafkaConfig, RESERVED_PROPERTIES, SettingError};

/// `bootstrap.servers` and the pass-through properties as one librdkafka config.
pub fn client_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.bootstrap_servers);
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    c
}

/// Java client properties with no librdkafka counterpart of the same name, and what to
/// set instead.
const JAVA_ONLY: &[(&str, &str)] = &[
    (
        "ssl.truststore.location",
        "librdkafka reads PEM: set ssl.ca.location to the CA certificate (keytool -exportcert -rfc turns a JKS truststore into PEM)",
    ),
    (
        "ssl.truststore.password",
        "librdkafka reads PEM: set ssl.ca.location to the CA certificate",
    ),
    (
        "ssl.truststore.type",
        "librdkafka reads PEM: set ssl.ca.location to the CA certificate",
    ),
    (
        "ssl.keystore.type",
        "set ssl.keystore.location to a PKCS#12 file, or ssl.certificate.location and ssl.key.location to PEM files",
    ),
    (
        "sasl.login.callback.handler.class",
        "for OIDC set sasl.oauthbearer.method=oidc with sasl.oauthbearer.token.endpoint.url, sasl.oauthbearer.client.id and sasl.oauthbearer.client.secret",
    ),
    (
        "max.poll.records",
        "a sink job takes up to its batch.size records per batch (batch.max.wait.ms bounds the wait)",
    ),
    (
        "sasl.client.callback.handler.class",
        "Java callback classes cannot run here; use librdkafka's sasl.* properties",
    ),
];

impl KafkaConfig {
    /// The section with `sasl.jaas.config` turned into librdkafka's properties, each
    /// problem naming `field_prefix` + its key.
    pub fn normalized(mut self, field_prefix: &str) -> Result<KafkaConfig, Vec<SettingError>> {
        let mut errors = Vec::new();
        if let Some(jaas) = self.properties.remove("sasl.jaas.config") {
            match jaas_credentials(&jaas) {
                Ok((user, password)) => {
                    self.properties
                        .entry("sasl.username".into())
                        .or_insert(user);
                    self.properties
                        .entry("sasl.password".into())
                        .or_insert(password);
                }
                Err(why) => errors.push(SettingError::new(
                    &format!("{field_prefix}sasl.jaas.config"),
                    why,
                )),
            }
        }
        for (key, hint) in JAVA_ONLY {
            if self.properties.contains_key(*key) {
                errors.push(SettingError::new(
                    &format!("{field_prefix}{key}"),
                    format!(
                        "is a Java client property that librdkafka does not have\nHINT: {hint}"
                    ),
                ));
            }
        }
        if errors.is_empty() {
            errors.extend(self.unknown_properties(field_prefix));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// This config with a connector's overrides applied.
    pub fn with(&self, overrides: &Overrides) -> KafkaConfig {
        let mut merged = self.clone();
        if let Some(b) = &overrides.bootstrap_servers {
            merged.bootstrap_servers = b.clone();
        }
        merged.properties.extend(overrides.properties.clone());
        merged
    }

    /// Properties librdkafka refuses (unknown names, invalid values), named with `prefix`.
    fn unknown_properties(&self, prefix: &str) -> Vec<SettingError> {
        let mut errors = Vec::new();
        for (key, value) in &self.properties {
            let mut one = ClientConfig::new();
            one.set(key, value);
            if let Err(KafkaError::ClientConfig(_, description, _, _)) = one.create_native_config()
            {
                errors.push(SettingError::new(
                    &format!("{prefix}{key}"),
                    format!("is refused by librdkafka: {description}"),
                ));
            }
        }
        errors
    }
}

/// A connector's Kafka Connect client overrides (`producer.override.*` of a source,
/// `consumer.override.*` of a sink job), checked and normalised like `[kafka]`. `Debug`
/// masks secret values.
#[derive(Clone, Default, PartialEq)]
pub struct Overrides {
    bootstrap_servers: Option<String>,
    properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("properties", &crate::settings::shown(&self.properties))
            .finish()
    }
}

impl Overrides {
    /// The `<prefix>*` properties of a connector. Keys Tributary sets itself for
    /// exactly-once delivery are refused; `handled` names overrides the caller reads
    /// itself (`group.id` of a sink job).
    pub fn parse(
        props: &BTreeMap<String, String>,
        prefix: &str,
        handled: &[&str],
    ) -> Result<Overrides, Vec<SettingError>> {
        let mut out = Overrides::default();
        let mut section = KafkaConfig {
            properties: BTreeMap::new(),
            ..KafkaConfig::default()
        };
        let mut errors = Vec::new();
        for (key, value) in props {
            let Some(k) = key.strip_prefix(prefix) else {
                continue;
            };
            if handled.contains(&k) {
                continue;
            }
            if RESERVED_PROPERTIES.contains(&k) {
                errors.push(SettingError::new(
                    key,
                    "is set by Tributary for exactly-once delivery and cannot be overridden; remove it",
                ));
            } else if k == "bootstrap.servers" {
                out.bootstrap_servers = Some(value.clone());
            } else {
                section.properties.insert(k.to_string(), value.clone());
            }
        }
        match section.normalized(prefix) {
            Ok(s) => out.properties = s.properties,
            Err(es) => errors.extend(es),
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bootstrap_servers.is_none() && self.properties.is_empty()
    }
}

/// `username` and `password` of a PLAIN or SCRAM `sasl.jaas.config`, as Java clients and
/// Kafka Connect write it:
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`
fn jaas_credentials(jaas: &str) -> Result<(String, String), String> {
    let module = jaas.split_whitespace().next().unwrap_or_default();
    let known = [
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        "org.apache.kafka.common.security.scram.ScramLoginModule",
    ];
    if !known.contains(&module) {
        return Err(format!(
            "login module {module:?} is not supported: only PlainLoginModule and ScramLoginModule credentials can be taken from a JAAS config\nHINT: set sasl.mechanism with sasl.username and sasl.password, or sasl.oauthbearer.* for OAUTHBEARER"
        ));
    }
    let option = |name: &str| -> Option<String> {
        let at = jaas.find(&format!("{name}="))? + name.len() + 1;
        let rest = jaas[at..].strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    };
    match (option("username"), option("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(format!(
            "{module} needs username=\"…\" and password=\"…\" in double quotes"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(pairs: &[(&str, &str)]) -> KafkaConfig {
        KafkaConfig {
            properties: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..KafkaConfig::default()
        }
    }

    #[test]
    fn a_jaas_config_becomes_librdkafkas_username_and_password() {
        let c = kafka(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w;d";"#,
            ),
        ])
        .normalized("kafka.")
        .unwrap();
        assert_eq!(c.properties["sasl.username"], "alice");
        assert_eq!(c.properties["sasl.password"], "p\"w;d");
        assert!(!c.properties.contains_key("sasl.jaas.config"));
    }

    #[test]
    fn java_only_and_unknown_properties_are_refused_by_name() {
        let errors = kafka(&[
            ("ssl.truststore.location", "/etc/kafka/truststore.jks"),
            ("buffer.memory", "33554432"),
        ])
        .normalized("kafka.")
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "kafka.ssl.truststore.location");
        assert!(errors[0].message.contains("ssl.ca.location"), "{errors:?}");
        let errors = kafka(&[("buffer.memory", "33554432")])
            .normalized("kafka.")
            .unwrap_err();
        assert_eq!(errors[0].field, "kafka.buffer.memory");
        let errors = kafka(&[("max.poll.records", "500")])
            .normalized("consumer.override.")
            .unwrap_err();
        assert_eq!(errors[0].field, "consumer.override.max.poll.records");
        assert!(errors[0].message.contains("batch.size"), "{errors:?}");
        let errors = kafka(&[(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        )])
        .normalized("kafka.")
        .unwrap_err();
        assert_eq!(errors[0].field, "kafka.sasl.jaas.config");
        assert!(errors[0].message.contains("sasl.oauthbearer"), "{errors:?}");
    }

    #[test]
    fn overrides_win_over_the_daemon_section_and_reserved_keys_are_refused() {
        let daemon = kafka(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.username", "daemon"),
        ]);
        let props: BTreeMap<String, String> = [
            ("producer.override.sasl.username", "connector"),
            ("producer.override.bootstrap.servers", "other:9093"),
            ("consumer.override.group.id", "ignored here"),
            ("table.include.list", "public.t"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = daemon.with(&Overrides::parse(&props, "producer.override.", &[]).unwrap());
        assert_eq!(c.bootstrap_servers, "other:9093");
        assert_eq!(c.properties["sasl.username"], "connector");
        let secret: BTreeMap<String, String> = [(
            "producer.override.sasl.password".to_string(),
            "hunter2".to_string(),
        )]
        .into();
        let o = Overrides::parse(&secret, "producer.override.", &[]).unwrap();
        assert!(!format!("{o:?}").contains("hunter2"), "{o:?}");
        assert_eq!(c.properties["security.protocol"], "SASL_SSL");
        let mut bad = props.clone();
        bad.insert("producer.override.transactional.id".into(), "x".into());
        bad.insert("producer.override.no.such.thing".into(), "x".into());
        let fields: Vec<String> = Overrides::parse(&bad, "producer.override.", &[])
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "producer.override.transactional.id",
                "producer.override.no.such.thing"
            ]
        );
    }
}
