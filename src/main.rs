//! The `tributary` binary: command-line entry point. The daemon is glue; protocol logic
//! lives in the connector crates.

mod capture;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tributary: change data capture from Postgres into Debezium-compatible change events.
#[derive(Parser, Debug)]
#[command(name = "tributary", version, about, long_about = None)]
struct Cli {
    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `tributary_postgres=debug`. Logs go to standard error.
    #[arg(
        long,
        global = true,
        default_value = "info",
        env = "TRIBUTARY__LOG__LEVEL"
    )]
    log_level: String,
    /// Log format: text or json.
    #[arg(
        long,
        global = true,
        default_value = "text",
        env = "TRIBUTARY__LOG__FORMAT"
    )]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
    if let Err(e) = telemetry::init(&cli.log_level, &cli.log_format) {
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
    let result = runtime.block_on(async {
        match cli.command {
            Command::Capture {
                connector,
                offset_file,
                stop_at,
                output,
            } => capture::run(&connector, offset_file, stop_at, output).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
