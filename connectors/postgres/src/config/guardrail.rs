//! Debezium's guardrail on the number of captured tables: `guardrail.collections.max`
//! (0: none) and `guardrail.collections.limit.action` (warn, or fail the connector), checked
//! when the connector starts against the tables its filters select.

use tributary_core::config::PropertyReader;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guardrail {
    /// `guardrail.collections.max`: tables the connector may capture; 0, no limit.
    pub max: u32,
    /// `guardrail.collections.limit.action=fail`: more tables stop the connector.
    pub fail: bool,
}

impl Guardrail {
    pub(super) fn parse(r: &mut PropertyReader<'_>) -> Guardrail {
        Guardrail {
            max: r.parse::<u32>("guardrail.collections.max", 0, "a non-negative integer"),
            fail: r.choice(
                "guardrail.collections.limit.action",
                false,
                &[("warn", false), ("fail", true)],
            ),
        }
    }

    /// Debezium's message when `tables` exceed the limit; `None` within it (or without one).
    pub fn exceeded(&self, tables: usize) -> Option<String> {
        (self.max > 0 && tables > self.max as usize).then(|| {
            format!(
                "Guardrail limit exceeded: {tables} tables/collections configured for capture, but maximum allowed is {} (guardrail.collections.max)",
                self.max
            )
        })
    }
}
