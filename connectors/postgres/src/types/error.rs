//! The error of a value that does not parse as its column type.
//!
//! It names the type, shows the offending text (cut to a readable length, since a value can
//! be megabytes of TOASTed text) and says what was expected. A value that cannot be parsed
//! will not parse on a retry either, so the error is definite.

use tributary_core::{ErrorKind, Retry};

/// How many characters of the offending text an error keeps.
const SHOWN_CHARS: usize = 64;

/// A Postgres text value that could not be turned into its Kafka Connect value.
///
/// Boxed inside, so that errors embedding it stay small on the happy path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {} value \"{}\": {}\nHint: the connection must use DateStyle='ISO, YMD', IntervalStyle='iso_8601', TimeZone='UTC', bytea_output='hex' and lc_monetary='C'.",
    .0.type_name, .0.text, .0.reason
)]
pub struct TypeError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    type_name: &'static str,
    text: String,
    reason: String,
}

impl TypeError {
    pub(crate) fn new(type_name: &'static str, text: &str, reason: impl Into<String>) -> Self {
        TypeError(Box::new(Details {
            type_name,
            text: shorten(text),
            reason: reason.into(),
        }))
    }

    /// The Postgres type family that failed to parse (`timestamp`, `numeric`, …).
    pub fn type_name(&self) -> &'static str {
        self.0.type_name
    }

    /// The offending text, cut to about 64 characters.
    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// What was wrong with the text.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }
}

impl Retry for TypeError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Definite
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}
