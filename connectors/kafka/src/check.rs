//! Does a Kafka configuration reach the cluster? A metadata request with a client that
//! records every error librdkafka reports while it tries, so a wrong password, an untrusted
//! CA or a plaintext client on a TLS port is named within a second or two — by the
//! property to fix — instead of surfacing as a timeout half a minute later.
//!
//! librdkafka keeps retrying such connections forever and says why only in its error
//! callback and its log lines (some only in the `broker` debug context, which the check
//! client turns on); [`misconfiguration`] reads those messages (the one place that knows
//! their wording) and says which property is wrong.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};

use tributary_core::{ErrorKind, Retry};

use crate::client::client_config;
use crate::settings::KafkaConfig;

/// How long a connector's start waits for the cluster to answer before it retries.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a configuration does not reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The cluster answered in a way only a configuration change fixes.
    #[error("{message}\nHINT: {hint}")]
    Misconfigured {
        property: &'static str,
        message: String,
        hint: &'static str,
    },
    /// Nothing answered in time (the broker may be down or starting): worth retrying.
    #[error("no Kafka broker at {bootstrap} answered within {waited_ms} ms{last}")]
    Unreachable {
        bootstrap: String,
        waited_ms: u64,
        last: String,
    },
    /// The client could not even be made (a property librdkafka refuses).
    #[error("the Kafka client could not be set up: {0}")]
    Setup(String),
}

impl Retry for CheckError {
    fn kind(&self) -> ErrorKind {
        match self {
            CheckError::Unreachable { .. } => ErrorKind::Transient,
            CheckError::Misconfigured { .. } | CheckError::Setup(_) => ErrorKind::Definite,
        }
    }
}

/// Which property a librdkafka error message points at, and what to do about it.
pub fn misconfiguration(message: &str) -> Option<(&'static str, &'static str)> {
    let m = message.to_ascii_lowercase();
    let has = |s: &str| m.contains(s);
    if has("sasl authentication error")
        || has("authentication failed")
        || has("invalid credentials")
    {
        Some((
            "sasl.password",
            "the broker refused the SASL credentials: check sasl.password and sasl.username (and that sasl.mechanism is one the listener enables)",
        ))
    } else if has("unsupported sasl mechanism") || has("sasl handshake failed") {
        Some((
            "sasl.mechanism",
            "the listener does not enable this SASL mechanism: set sasl.mechanism to one it does (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)",
        ))
    } else if has("certificate verify failed")
        || has("self-signed certificate")
        || has("unable to get local issuer")
    {
        Some((
            "ssl.ca.location",
            "the broker's certificate is not signed by a CA this client trusts: set ssl.ca.location to the CA certificate (PEM) that signed it",
        ))
    } else if has("certificate required")
        || has("alert bad certificate")
        || has("peer did not return a certificate")
    {
        Some((
            "ssl.certificate.location",
            "the listener requires a client certificate (mTLS): set ssl.certificate.location and ssl.key.location",
        ))
    } else if has("incorrect security.protocol")
        || has("connecting to a ssl listener")
        || has("wrong version number")
        || has("packet length too long")
        || has("record layer failure")
        // A TLS listener reading a plaintext ApiVersion request hangs up at once.
        || (has("closed by peer") && has("state apiversion_query"))
    {
        Some((
            "security.protocol",
            "the listener speaks another protocol than this client: set security.protocol to what the listener expects (SSL or SASL_SSL for a TLS port, PLAINTEXT or SASL_PLAINTEXT otherwise)",
        ))
    } else {
        None
    }
}

/// A message with the hint that names the property to fix, when there is one.
pub fn explained(message: String) -> String {
    match misconfiguration(&message) {
        Some((_, hint)) => format!("{message}\nHINT: {hint}"),
        None => message,
    }
}

/// Every error the client reported, and why its connections failed.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

struct CheckContext(Arc<Seen>);

impl ClientContext for CheckContext {
    /// The reasons of failed connections come as log lines: TLS alerts as warnings, and a
    /// listener that hangs up on the protocol handshake only in the `broker` debug
    /// context's FAIL lines (the check client runs with `debug=broker`).
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let worth = (level as i32) <= (RDKafkaLogLevel::Warning as i32) || fac == "FAIL";
        if worth && let Ok(mut seen) = self.0.0.lock() {
            seen.push(format!("{fac}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut seen) = self.0.0.lock() {
            seen.push(format!("{error}: {reason}"));
        }
    }
}

impl ProducerContext for CheckContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

/// Asks the cluster for its metadata, giving up after `timeout`; a misconfiguration is
/// reported as soon as librdkafka sees it.
pub async fn reach(kafka: &KafkaConfig, timeout: Duration) -> Result<(), CheckError> {
    let seen = Arc::new(Seen::default());
    // A threaded producer polls its queue in the background, so librdkafka's error
    // callbacks reach `seen` while the metadata request waits.
    let client: ThreadedProducer<CheckContext> = client_config(kafka)
        .set_log_level(RDKafkaLogLevel::Debug)
        .set("debug", "broker")
        .set("log.queue", "false")
        .create_with_context(CheckContext(seen.clone()))
        .map_err(|e| CheckError::Setup(e.to_string()))?;
    let client = Arc::new(client);
    let started = Instant::now();
    let c = client.clone();
    let mut fetch = tokio::task::spawn_blocking(move || {
        c.client()
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let mut fetched: Option<String> = None;
    loop {
        let misconfigured = seen.0.lock().ok().and_then(|s| {
            s.iter()
                .chain(fetched.iter())
                .find_map(|m| misconfiguration(m).map(|p| (m.clone(), p)))
        });
        if let Some((message, (property, hint))) = misconfigured {
            // The metadata call may still run on its thread; it ends at its timeout.
            return Err(CheckError::Misconfigured {
                property,
                message: format!(
                    "Kafka at {} refused the connection: {message}",
                    kafka.bootstrap_servers
                ),
                hint,
            });
        }
        if let Some(error) = &fetched {
            let last = seen
                .0
                .lock()
                .ok()
                .and_then(|s| s.last().cloned())
                .unwrap_or_else(|| error.clone());
            return Err(CheckError::Unreachable {
                bootstrap: kafka.bootstrap_servers.clone(),
                waited_ms: started.elapsed().as_millis() as u64,
                last: format!(": {last}"),
            });
        }
        match tokio::time::timeout(Duration::from_millis(50), &mut fetch).await {
            Ok(Ok(Ok(()))) => return Ok(()),
            // Looked at once more above: the error may name a misconfiguration.
            Ok(Ok(Err(e))) => fetched = Some(e),
            Ok(Err(e)) => fetched = Some(e.to_string()),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafkas_messages_name_the_property_to_fix() {
        for (message, property) in [
            (
                "Authentication failed: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
                "sasl.password",
            ),
            (
                "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified",
                "ssl.ca.location",
            ),
            (
                "127.0.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10",
                "security.protocol",
            ),
            (
                "ssl://127.0.0.1:9094/bootstrap: SSL transport error while reading: error:0A00045C:SSL routines::tlsv13 alert certificate required",
                "ssl.certificate.location",
            ),
            (
                "FAIL: [thrd:ssl://127.0.0.1:44703/bootstrap]: ssl://127.0.0.1:44703/bootstrap: Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate: SSL alert number 42 (after 7ms in state APIVERSION_QUERY)",
                "ssl.certificate.location",
            ),
            (
                "FAIL: [thrd:127.0.0.1:33715/bootstrap]: 127.0.0.1:33715/bootstrap: Disconnected: connection closed by peer: receive 0 after POLLIN (after 5ms in state APIVERSION_QUERY) (_TRANSPORT)",
                "security.protocol",
            ),
        ] {
            assert_eq!(
                misconfiguration(message).map(|p| p.0),
                Some(property),
                "{message}"
            );
            assert!(explained(message.to_string()).contains(property));
        }
        assert_eq!(misconfiguration("Connection refused"), None);
    }
}
