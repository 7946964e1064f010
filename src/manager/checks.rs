//! Checking connector names and configs before anything changes.

use std::sync::Arc;

use serde_json::{Map, Value};
use tributary_core::config::ConfigError;

use super::{Manager, OpError};
use crate::kinds::{Claim, Spec};

/// Kafka Connect's rule for names, plus what keeps them safe in paths and logs.
pub fn check_name(name: &str) -> Result<(), OpError> {
    let bad = |why: &str| {
        Err(OpError::BadRequest(format!(
            "name: {name:?} is not a valid connector name: {why}"
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > 200 {
        return bad("it is longer than 200 characters");
    }
    if name.trim() != name {
        return bad("it starts or ends with whitespace");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains '/' or '\\'");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not names");
    }
    Ok(())
}

/// Kafka Connect keeps the name in the config too; a different one there is an error.
pub(super) fn named(name: &str, config: &mut Map<String, Value>) -> Result<(), OpError> {
    match config.get("name") {
        Some(Value::String(n)) if n != name => Err(OpError::BadRequest(format!(
            "name: the connector name in the config ({n:?}) does not match the name in the request ({name:?})"
        ))),
        _ => {
            config.insert("name".into(), Value::String(name.to_string()));
            Ok(())
        }
    }
}

impl Manager {
    /// Checks a config as POST and PUT do: every property, what the connector would hold
    /// alone, then what it reaches (Kafka, the database or the target).
    pub async fn check(
        &self,
        name: &str,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Spec>, Vec<ConfigError>> {
        let spec = crate::kinds::parse(name, config, &self.shared.worker)?;
        let mut errors: Vec<ConfigError> = spec
            .claims()
            .into_iter()
            .filter_map(|claim| self.claimed(name, &claim))
            .collect();
        if let Err(e) = spec.check(&self.shared).await {
            errors.extend(e);
        }
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }

    /// The error when another connector (not deleted) holds what `claim` names.
    fn claimed(&self, name: &str, claim: &Claim) -> Option<ConfigError> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let other = entries.iter().find_map(|(other, e)| {
            let d = e.desired();
            let spec = d.spec.as_ref().ok()?;
            (other != name
                && !d.deleted
                && spec.claims().iter().any(|c| c.resource == claim.resource))
            .then(|| other.clone())
        })?;
        Some(ConfigError {
            field: claim.field.into(),
            message: claim.message.replace("{other}", &format!("{other:?}")),
        })
    }
}
