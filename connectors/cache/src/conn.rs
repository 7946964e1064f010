//! A connection to Redis through the `redis` crate: one server (`redis://`, `rediss://`),
//! the master a set of Sentinels names, or a Redis Cluster.
//!
//! [`Connection::calls`] runs many script calls at once: on one server as one pipeline
//! (one round trip, in order), in a cluster concurrently, each routed to its slot's master
//! (the caller never puts two slots in one call, and orders calls of one slot in
//! rounds). Redirections (`MOVED`, `ASK`) and a cluster's failovers are followed by the
//! client; what remains an error is returned for the sink to classify and retry.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    AggregateOp, MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo,
};
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, Cmd, ConnectionAddr, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult, TlsCertificates, Value,
};

use crate::config::{ConnectParams, TlsFiles, Topology};
use crate::error::RedisError;
use crate::script::APPLY_SCRIPT;

/// Script calls in flight at once in a cluster.
const CLUSTER_CONCURRENCY: usize = 256;

/// A connected, authenticated Redis connection with the database selected.
pub enum Connection {
    /// One server, or the master the Sentinels named.
    Single(MultiplexedConnection, Duration),
    Cluster(ClusterConnection, Duration),
}

/// A node to scan: `None` is the one server.
pub type ScanTarget = Option<(String, u16)>;

/// A reply that is an error reply as an `Err`; errors inside an array (a batch's per-change
/// results) stay where they are.
fn top(reply: RedisResult<Value>) -> RedisResult<Value> {
    match reply? {
        Value::ServerError(e) => Err(e.into()),
        v => Ok(v),
    }
}

/// The password to send with `AUTH`: an ACL user named without one (a `nopass` user)
/// still authenticates, with an empty password, since the client sends `AUTH` only
/// when it has a password.
fn password(params: &ConnectParams) -> Option<&str> {
    match (&params.password, &params.username) {
        (Some(password), _) => Some(password.expose()),
        (None, Some(_)) => Some(""),
        (None, None) => None,
    }
}

fn redis_info(params: &ConnectParams) -> RedisConnectionInfo {
    let mut info = RedisConnectionInfo::default().set_db(params.db as i64);
    if let Some(user) = &params.username {
        info = info.set_username(user);
    }
    if let Some(password) = password(params) {
        info = info.set_password(password);
    }
    info
}

/// The TLS files' contents; `None` when none is set (the system's roots are trusted).
async fn certificates(files: &TlsFiles) -> Result<Option<TlsCertificates>, RedisError> {
    async fn read(
        path: &Option<std::path::PathBuf>,
        field: &str,
    ) -> Result<Option<Vec<u8>>, RedisError> {
        let Some(p) = path else { return Ok(None) };
        tokio::fs::read(p)
            .await
            .map(Some)
            .map_err(|e| RedisError::Config(format!("{field}: cannot read {p:?}: {e}")))
    }
    let root_cert = read(&files.ca, "redis.tls.ca.location").await?;
    let cert = read(&files.certificate, "redis.tls.certificate.location").await?;
    let key = read(&files.key, "redis.tls.key.location").await?;
    let client_tls = match (cert, key) {
        (Some(client_cert), Some(client_key)) => Some(ClientTlsConfig {
            client_cert,
            client_key,
        }),
        _ => None,
    };
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

fn addr(params: &ConnectParams, host: &str, port: u16) -> ConnectionAddr {
    match params.tls {
        Some(_) => ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: false,
            tls_params: None,
        },
        None => ConnectionAddr::Tcp(host.to_string(), port),
    }
}

impl Connection {
    /// Connects and authenticates; for a cluster, learns its slots.
    pub async fn connect(params: &ConnectParams) -> Result<Connection, RedisError> {
        // The client is built without a bundled crypto provider; ours is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = params.timeout;
        let named = params.to_string();
        let failed = |e| RedisError::connecting(e, &named, params.db, timeout);
        let certs = match &params.tls {
            Some(files) => certificates(files).await?,
            None => None,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        match &params.topology {
            Topology::Standalone => {
                let (host, port) = &params.hosts[0];
                let info = addr(params, host, *port)
                    .into_connection_info()
                    .map_err(failed)?
                    .set_redis_settings(redis_info(params));
                let client = match certs {
                    Some(certs) => Client::build_with_tls(info, certs),
                    None => Client::open(info),
                }
                .map_err(failed)?;
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(failed)?;
                Ok(Connection::Single(conn, timeout))
            }
            Topology::Sentinel { master } => {
                let sentinels = params
                    .hosts
                    .iter()
                    .map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p));
                let mut builder =
                    SentinelClientBuilder::new(sentinels, master, SentinelServerType::Master)
                        .map_err(failed)?
                        .set_client_to_redis_db(params.db as i64);
                if let Some(user) = &params.username {
                    builder = builder.set_client_to_redis_username(user);
                }
                if let Some(password) = password(params) {
                    builder = builder.set_client_to_redis_password(password);
                }
                let mut client = builder.build().map_err(failed)?;
                let conn = client
                    .get_async_connection_with_config(&config)
                    .await
                    .map_err(failed)?;
                Ok(Connection::Single(conn, timeout))
            }
            Topology::Cluster => {
                let nodes: Vec<_> = params
                    .hosts
                    .iter()
                    .map(|(h, p)| addr(params, h, *p).into_connection_info())
                    .collect::<RedisResult<_>>()
                    .map_err(failed)?;
                let mut builder = ClusterClientBuilder::new(nodes)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(3);
                if let Some(user) = &params.username {
                    builder = builder.username(user);
                }
                if let Some(password) = password(params) {
                    builder = builder.password(password);
                }
                if let Some(certs) = certs {
                    builder = builder.certs(certs);
                }
                let conn = builder
                    .build()
                    .map_err(failed)?
                    .get_async_connection()
                    .await
                    .map_err(failed)?;
                Ok(Connection::Cluster(conn, timeout))
            }
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Connection::Single(_, t) | Connection::Cluster(_, t) => *t,
        }
    }

    /// Runs one command; an error reply is an `Err`.
    pub async fn query(&mut self, command: &'static str, cmd: &Cmd) -> Result<Value, RedisError> {
        let timeout = self.timeout();
        let result = match self {
            Connection::Single(c, _) => c.req_packed_command(cmd).await,
            Connection::Cluster(c, _) => c.req_packed_command(cmd).await,
        };
        top(result).map_err(|e| RedisError::from_client(e, command, timeout))
    }

    /// Runs `cmds`, returning each one's result (an error reply is that call's `Err`);
    /// the `Err` of the whole is a failure to talk to Redis at all.
    pub async fn calls(&mut self, cmds: Vec<Cmd>) -> Result<Vec<RedisResult<Value>>, RedisError> {
        let timeout = self.timeout();
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Connection::Single(c, _) => {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query_async::<Vec<RedisResult<Value>>>(c)
                    .await
                    .map_err(|e| RedisError::from_client(e, "EVALSHA", timeout))
            }
            Connection::Cluster(c, _) => {
                // Each call is bounded by the client's timeout, and so is the whole: calls
                // waiting behind a failed node must not add up to many timeouts.
                let all = stream::iter(cmds.into_iter().enumerate())
                    .map(|(i, cmd)| {
                        let mut c = c.clone();
                        async move { (i, top(c.req_packed_command(&cmd).await)) }
                    })
                    .buffer_unordered(CLUSTER_CONCURRENCY)
                    .collect::<Vec<(usize, RedisResult<Value>)>>();
                let results = tokio::time::timeout(timeout, all)
                    .await
                    .map_err(|_| RedisError::Timeout(timeout))?;
                let mut ordered: Vec<Option<RedisResult<Value>>> =
                    (0..results.len()).map(|_| None).collect();
                for (i, r) in results {
                    ordered[i] = Some(r);
                }
                Ok(ordered.into_iter().flatten().collect())
            }
        }
    }

    /// Loads the apply script (on every node of a cluster) and returns its SHA1.
    pub async fn load_script(&mut self) -> Result<String, RedisError> {
        let mut cmd = redis::cmd("SCRIPT");
        cmd.arg("LOAD").arg(APPLY_SCRIPT);
        let timeout = self.timeout();
        let reply = top(match self {
            Connection::Single(c, _) => c.req_packed_command(&cmd).await,
            Connection::Cluster(c, _) => {
                let all = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::AllSucceeded),
                ));
                c.route_command(cmd, all).await
            }
        })
        .map_err(|e| RedisError::from_client(e, "SCRIPT LOAD", timeout))?;
        match reply {
            Value::BulkString(sha) => String::from_utf8(sha)
                .map_err(|_| RedisError::Protocol("SCRIPT LOAD answered a non-UTF-8 SHA".into())),
            Value::SimpleString(sha) => Ok(sha),
            other => Err(RedisError::Protocol(format!(
                "SCRIPT LOAD answered {other:?}"
            ))),
        }
    }

    /// Waits until `replicas` replicas (of every master) have this connection's writes,
    /// at most three quarters of the client's timeout (so that the answer comes within
    /// it); returns how many did (the fewest of any master).
    pub async fn wait_replicas(&mut self, replicas: u32) -> Result<u32, RedisError> {
        let timeout = self.timeout();
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas)
            .arg((timeout.as_millis() as u64 * 3 / 4).max(1));
        let reply = top(match self {
            Connection::Single(c, _) => c.req_packed_command(&cmd).await,
            Connection::Cluster(c, _) => {
                let all = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::Aggregate(AggregateOp::Min)),
                ));
                c.route_command(cmd, all).await
            }
        })
        .map_err(|e| RedisError::from_client(e, "WAIT", timeout))?;
        match reply {
            Value::Int(n) => Ok(n.max(0) as u32),
            other => Err(RedisError::Protocol(format!("WAIT answered {other:?}"))),
        }
    }

    /// The nodes whose keys a scan must cover: the one server, or every cluster master.
    pub async fn scan_targets(&mut self) -> Result<Vec<ScanTarget>, RedisError> {
        let Connection::Cluster(..) = self else {
            return Ok(vec![None]);
        };
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SLOTS");
        let reply = self.query("CLUSTER SLOTS", &cmd).await?;
        let bad = || RedisError::Protocol(format!("CLUSTER SLOTS answered {reply:?}"));
        let Value::Array(ranges) = &reply else {
            return Err(bad());
        };
        let mut masters = Vec::new();
        for range in ranges {
            // [start, end, [host, port, id, …] of the master, replicas…]
            let Value::Array(parts) = range else {
                return Err(bad());
            };
            let Some(Value::Array(master)) = parts.get(2) else {
                return Err(bad());
            };
            let host = match master.first() {
                Some(Value::BulkString(h)) => String::from_utf8_lossy(h).into_owned(),
                Some(Value::SimpleString(h)) => h.clone(),
                _ => return Err(bad()),
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return Err(bad());
            };
            let node = Some((host, *port as u16));
            if !masters.contains(&node) {
                masters.push(node);
            }
        }
        Ok(masters)
    }

    /// One `SCAN` step on `target`: the next cursor and the keys found.
    pub async fn scan(
        &mut self,
        target: &ScanTarget,
        cursor: u64,
        glob: &str,
        count: usize,
    ) -> Result<(u64, Vec<String>), RedisError> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(glob)
            .arg("COUNT")
            .arg(count);
        let timeout = self.timeout();
        let reply = top(match (self, target) {
            (Connection::Cluster(c, _), Some((host, port))) => {
                let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                c.route_command(cmd, node).await
            }
            (Connection::Cluster(c, _), None) => c.req_packed_command(&cmd).await,
            (Connection::Single(c, _), _) => c.req_packed_command(&cmd).await,
        })
        .map_err(|e| RedisError::from_client(e, "SCAN", timeout))?;
        let parsed = redis::from_redis_value::<(u64, Vec<String>)>(reply.clone());
        parsed.map_err(|_| RedisError::Protocol(format!("SCAN answered {reply:?}")))
    }
}
