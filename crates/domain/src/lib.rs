//! Domain types of CHT Portal: identifiers and validated values, with no I/O.
//!
//! Everything that crosses a boundary (form, CLI, config, database) is parsed into these types
//! once, so the rest of the code can rely on them being valid.

mod access;
mod audit;
mod email;
mod ids;
mod instance;
mod password;
pub mod place_path;
mod scope;
mod staging;
mod tenant;

pub use access::{BuiltinRole, Permission, PermissionSet, RoleKey};
pub use audit::{AuditAction, TargetKind};
pub use email::Email;
pub use ids::{InstanceId, TenantId, UserId};
pub use instance::{BaseUrl, InstanceName, ServiceUsername};
pub use password::{NewPassword, PasswordPolicyError};
pub use scope::PlaceScope;
pub use staging::{ProblemKind, RowCounts, RowStatus};
pub use tenant::{TenantName, TenantSlug};

/// A value that failed validation, with a message meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    /// The human name of the field ("Base URL", "Email").
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Trims surrounding white space and rejects empty or over-long text.
fn bounded_text(field: &'static str, raw: &str, max_chars: usize) -> Result<String, InvalidValue> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::new(field, "is required"));
    }
    let count = trimmed.chars().count();
    if count > max_chars {
        return Err(InvalidValue::new(
            field,
            format!("is {count} characters long; the limit is {max_chars}"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            field,
            "contains a control character (such as a tab or line break); remove it",
        ));
    }
    Ok(trimmed.to_owned())
}
