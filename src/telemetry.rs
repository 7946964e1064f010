//! Logging setup: one style, lower-case messages with structured fields, to standard error.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(level: &str, format: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| {
        format!("log level {level:?} is not valid: {e}; use error, warn, info, debug or trace")
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        "text" => builder.init(),
        "json" => builder.json().init(),
        other => {
            return Err(format!(
                "log format {other:?} is not valid; use text or json"
            ));
        }
    }
    Ok(())
}
