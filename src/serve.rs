//! `tributary serve`: the daemon. It locks its data directory, serves the embedded schema
//! registry unless an external one is configured, brings back the stored connectors (and
//! adopts `--connector` files), and serves the REST API until SIGINT or SIGTERM, when
//! every connector finishes the transaction it is in, within `shutdown_timeout_ms`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tributary_avro::registry::{Access, EmbeddedRegistry, RegistryAuth, RegistryClient};
#[cfg(test)]
use tributary_postgres::config::PostgresConnectorConfig;

use crate::api::{ApiState, router};
use crate::config::DaemonConfig;
use crate::connector::Shared;
use crate::manager::{Manager, check_name};
use crate::store::{Store, Stored, TargetState};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {0} is in use by another tributary process\nHINT: stop it, or give this one its own data_dir"
    )]
    Locked(PathBuf),
    #[error(
        "could not listen on {addr} ({key}): {source}\nHINT: is another process using the port? set {key} to a free address"
    )]
    Bind {
        addr: std::net::SocketAddr,
        key: &'static str,
        source: std::io::Error,
    },
    #[error("{0}")]
    Registry(#[from] tributary_avro::registry::RegistryError),
}

impl ServeError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// A connector from a `--connector` file: its name and config.
pub type FileConnector = (String, serde_json::Map<String, serde_json::Value>);

/// Reads and checks connector files (Kafka Connect's `{"name", "config"}` shape).
pub fn load_connectors(
    files: &[PathBuf],
    worker: &BTreeMap<String, String>,
) -> Result<Vec<FileConnector>, ServeError> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let text = std::fs::read(path).map_err(|source| ServeError::Io {
            action: "read connector file",
            path: path.clone(),
            source,
        })?;
        let doc: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            ServeError::Config(format!(
                "connector file {} is not valid JSON: {e}",
                path.display()
            ))
        })?;
        let (Some(name), Some(config)) = (
            doc.get("name").and_then(|n| n.as_str()),
            doc.get("config").and_then(|c| c.as_object()),
        ) else {
            errors.push(format!(
                "{}: use Kafka Connect's shape {{\"name\": …, \"config\": {{…}}}}",
                path.display()
            ));
            continue;
        };
        if let Err(e) = check_name(name) {
            errors.push(format!("{}: {e}", path.display()));
            continue;
        }
        match crate::kinds::parse(name, config, worker) {
            Ok(_) => specs.push((name.to_string(), config.clone())),
            Err(es) => errors.extend(es.iter().map(|e| format!("{}: {e}", path.display()))),
        }
    }
    let mut names: Vec<&str> = specs.iter().map(|s| s.0.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        errors.push(format!(
            "two connectors are named {:?}; names must be unique",
            w[0]
        ));
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(ServeError::Config(errors.join("\n")))
    }
}

/// Connector files join the store: a new name is created RUNNING, a known one gets the
/// file's config and keeps its target state.
fn adopt_files(store: &Store, files: Vec<FileConnector>) -> Result<(), ServeError> {
    let stored = store.all();
    for (name, mut config) in files {
        config.insert("name".into(), serde_json::Value::String(name.clone()));
        let entry = match stored.get(&name) {
            Some(s) if s.config == config => continue,
            Some(s) => Stored {
                config,
                ..s.clone()
            },
            None => Stored {
                config,
                target: TargetState::Running,
                topics: vec![],
            },
        };
        store
            .put(&name, Some(entry))
            .map_err(|e| ServeError::Config(e.to_string()))?;
    }
    Ok(())
}

/// Takes an exclusive lock on `<data_dir>/.lock` for the life of the process.
fn lock_data_dir(dir: &Path) -> Result<File, ServeError> {
    std::fs::create_dir_all(dir).map_err(|source| ServeError::Io {
        action: "create data directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(".lock");
    let file = File::create(&path).map_err(|source| ServeError::Io {
        action: "create",
        path: path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(ServeError::Io {
            action: "lock",
            path,
            source,
        }),
    }
}

async fn bind(addr: std::net::SocketAddr, key: &'static str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, key, source })
}

pub async fn run(config: DaemonConfig, connector_files: Vec<PathBuf>) -> Result<(), ServeError> {
    let files = load_connectors(&connector_files, &config.connect)?;
    let _lock = lock_data_dir(&config.data_dir)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    // The daemon's own client: the external registry's credentials, or the embedded
    // registry's daemon token (which may write even in read-only mode).
    let (registry_url, registry_task, daemon_token) = match &config.registry.url {
        Some(url) => (url.clone(), None, None),
        None => {
            let access = Access::new(
                config.registry.serve_auth.clone(),
                config.registry.read_only,
            );
            let token = access.daemon_token().clone();
            let registry = EmbeddedRegistry::open(&config.data_dir.join("schema-registry"))?
                .with_access(access);
            let listener = bind(config.registry.listen, "schema_registry.listen").await?;
            let addr = listener.local_addr().map_err(|source| ServeError::Bind {
                addr: config.registry.listen,
                key: "schema_registry.listen",
                source,
            })?;
            let mut stop = shutdown_rx.clone();
            let task = tokio::spawn(registry.serve(listener, async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
            (format!("http://{addr}"), Some(task), Some(token))
        }
    };
    let auth = match (
        daemon_token,
        &config.registry.basic_auth,
        &config.registry.bearer_token,
    ) {
        (Some(token), _, _) => RegistryAuth::Bearer(token),
        (None, Some(b), _) => {
            let (user, password) = b.split_once(':').unwrap_or((b, ""));
            RegistryAuth::Basic {
                user: user.to_string(),
                password: tributary_core::Secret::new(password),
            }
        }
        (None, None, Some(t)) => RegistryAuth::Bearer(tributary_core::Secret::new(t.clone())),
        (None, None, None) => RegistryAuth::None,
    };
    let registry = Arc::new(RegistryClient::new(&registry_url, auth)?);
    let indexes_dir = config.data_dir.join("indexes");
    let indexes = tributary_search::IndexRegistry::open(&indexes_dir).map_err(|e| {
        ServeError::Config(format!(
            "could not open the search indexes in {}: {e}",
            indexes_dir.display()
        ))
    })?;
    let mut resources = tributary_core::target::Resources::default();
    resources.insert(indexes.clone());
    let shared = Arc::new(Shared {
        kafka: config.kafka.clone(),
        registry,
        indexes,
        resources,
        worker: Arc::new(config.connect.clone()),
    });

    let store = Store::open(&config.data_dir).map_err(|e| ServeError::Config(e.to_string()))?;
    adopt_files(&store, files)?;
    let api_listener = bind(config.api_listen, "api.listen").await?;
    let api_addr = api_listener
        .local_addr()
        .map_err(|source| ServeError::Bind {
            addr: config.api_listen,
            key: "api.listen",
            source,
        })?;
    let manager = Manager::start(shared.clone(), store);
    let state = Arc::new(ApiState {
        manager: manager.clone(),
        shared,
        worker_id: api_addr.to_string(),
        config: config.api.clone(),
        ready: AtomicBool::new(true),
    });
    let mut stop = shutdown_rx.clone();
    let api = tokio::spawn(
        axum::serve(api_listener, router(state.clone()))
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .into_future(),
    );
    tracing::info!(api = %api_addr, registry = registry_url, connectors = manager.names().len(), "tributary ready");
    crate::notify::notify("READY=1");

    crate::signal::wait().await;
    crate::notify::notify("STOPPING=1");
    state.ready.store(false, Ordering::Relaxed);
    tracing::info!("stopping: connectors finish the transaction they are in");
    manager.shutdown(config.shutdown_timeout).await;
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    if let Some(task) = registry_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every property the publishing side reads is one the Postgres connector accepts:
    /// the two crates keep their own lists, and this keeps them in step.
    #[test]
    fn the_postgres_connector_accepts_every_publish_property() {
        for key in tributary_kafka::settings::PUBLISH_PROPERTIES {
            let doc = serde_json::json!({"name": "c", "config": {
                "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                "database.hostname": "127.0.0.1", "database.user": "u",
                "database.dbname": "d", "topic.prefix": "cdc",
                "heartbeat.interval.ms": "1000", *key: "1",
            }});
            if let Err(e) = PostgresConnectorConfig::from_connector_json(&doc) {
                assert!(
                    !e.to_string().contains(key),
                    "{key} is read by the publisher but refused by the source: {e}"
                );
            }
        }
    }
}
