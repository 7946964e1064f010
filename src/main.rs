//! The `tributary` binary: command-line entry point. The daemon is glue; protocol logic
//! lives in the connector crates.

mod api;
mod capture;
mod config;
mod connector;
mod kinds;
mod manager;
mod metrics;
mod notify;
mod secrets;
mod serve;
mod signal;
mod store;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rows are allocated by one task and freed by another; glibc's malloc pays for that on
/// every row (the snapshot spent about 8% of its time in it), mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tributary: change data capture from Postgres into Debezium-compatible change events.
#[derive(Parser, Debug)]
#[command(name = "tributary", version, about, long_about = None)]
struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `tributary_postgres=debug`. Logs go to standard error.
    #[arg(long, global = true, env = "TRIBUTARY__LOG__LEVEL")]
    log_level: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "TRIBUTARY__LOG__FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: the REST API (Kafka Connect's dialect, on 127.0.0.1:8083), the
    /// embedded schema registry (unless an external one is configured) and the connectors,
    /// publishing to Kafka exactly once.
    ///
    /// Connectors are managed over the API (POST /connectors, …) and kept in the data
    /// directory, so they come back after a restart. With no config, everything runs on
    /// loopback with defaults and ./data. SIGINT or SIGTERM stops cleanly; under systemd
    /// (Type=notify) readiness is reported.
    Serve {
        /// Daemon config (TOML). Every key can be overridden by TRIBUTARY__SECTION__KEY.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Connector JSON files ({"name": …, "config": {…}}) to create or update at start,
        /// as PUT /connectors/{name}/config would; repeatable.
        #[arg(long)]
        connector: Vec<PathBuf>,
    },
    /// Check a daemon config (and connector files) without starting anything.
    Validate {
        /// Daemon config (TOML) to check.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Connector JSON files to check (every property; the database is not contacted).
        #[arg(long)]
        connector: Vec<PathBuf>,
    },
    /// Run one source connector in the foreground and print its events as JSON lines.
    ///
    /// Each line is `{"topic": …, "key": …, "value": …}` as Kafka Connect's JsonConverter
    /// writes records with schemas disabled (`value` is Debezium's envelope; a tombstone
    /// has a null value). LSNs are acknowledged to Postgres only after the lines are
    /// written and the offset file is saved. SIGINT or SIGTERM stops cleanly.
    Capture {
        /// Connector JSON in Kafka Connect's shape: {"name": …, "config": {…}}.
        #[arg(long)]
        connector: PathBuf,
        /// Where the connector's offset is kept between runs
        /// (default: ./data/capture/<name>.offsets.json).
        #[arg(long)]
        offset_file: Option<PathBuf>,
        /// Stop once a transaction ending at or past this LSN (`X/Y`) is written, like
        /// pg_recvlogical's --endpos.
        #[arg(long, value_name = "LSN")]
        stop_at: Option<tributary_core::Lsn>,
        /// `json` prints every record; `none` decodes everything but prints nothing (to
        /// measure the source alone). Offsets and acknowledgement work the same.
        #[arg(long, value_enum, default_value_t = capture::Output::Json)]
        output: capture::Output,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = match &cli.command {
        Command::Serve { config, .. } | Command::Validate { config, .. } => {
            match config::DaemonConfig::load(config.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        Command::Capture { .. } => None,
    };
    let from_file = |f: fn(&config::DaemonConfig) -> &Option<String>| {
        daemon.as_ref().and_then(|d| f(d).clone())
    };
    let level = cli
        .log_level
        .clone()
        .or_else(|| from_file(|d| &d.log_level))
        .unwrap_or_else(|| "info".into());
    let format = cli
        .log_format
        .clone()
        .or_else(|| from_file(|d| &d.log_format))
        .unwrap_or_else(|| "text".into());
    if let Err(e) = telemetry::init(&level, &format) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), (String, u8)> = runtime.block_on(async {
        match cli.command {
            Command::Serve { connector, .. } => {
                let config = daemon.expect("loaded above");
                serve::run(config, connector)
                    .await
                    .map_err(|e| (e.to_string(), e.exit_code()))
            }
            Command::Validate { connector, .. } => {
                serve::load_connectors(&connector, &daemon.expect("loaded above").connect)
                    .map(|specs| {
                        println!("config is valid; {} connector(s)", specs.len());
                    })
                    .map_err(|e| (e.to_string(), e.exit_code()))
            }
            Command::Capture {
                connector,
                offset_file,
                stop_at,
                output,
            } => capture::run(&connector, offset_file, stop_at, output)
                .await
                .map_err(|e| (e.to_string(), e.exit_code())),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, code)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
