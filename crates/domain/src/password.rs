use std::fmt;

/// A password a person chose for their portal account, checked against the policy.
///
/// The policy follows NIST SP 800-63B: length matters, composition rules do not. `Debug` never
/// shows the value.
#[derive(Clone)]
pub struct NewPassword(String);

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Argon2 hashes any length, but an upper bound keeps a hostile form post cheap to reject.
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("The password must be at least {MIN_PASSWORD_CHARS} characters long (it has {0}).")]
    TooShort(usize),
    #[error("The password must be at most {MAX_PASSWORD_CHARS} characters long.")]
    TooLong,
    #[error("The password must not be the same as the email address.")]
    SameAsEmail,
    #[error("The password must not be one character repeated.")]
    Repetitive,
}

impl NewPassword {
    pub fn parse(raw: &str, email: &str) -> Result<Self, PasswordPolicyError> {
        let count = raw.chars().count();
        if count < MIN_PASSWORD_CHARS {
            return Err(PasswordPolicyError::TooShort(count));
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(PasswordPolicyError::TooLong);
        }
        if raw.trim().eq_ignore_ascii_case(email.trim()) {
            return Err(PasswordPolicyError::SameAsEmail);
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(PasswordPolicyError::Repetitive);
        }
        Ok(Self(raw.to_owned()))
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(
            NewPassword::parse("short", "a@b.org").unwrap_err(),
            PasswordPolicyError::TooShort(5)
        );
        assert_eq!(
            NewPassword::parse("aaaaaaaaaaaaaa", "a@b.org").unwrap_err(),
            PasswordPolicyError::Repetitive
        );
        assert_eq!(
            NewPassword::parse("jane@health.org", "Jane@Health.org").unwrap_err(),
            PasswordPolicyError::SameAsEmail
        );
        assert!(NewPassword::parse("correct horse battery", "a@b.org").is_ok());
    }

    #[test]
    fn debug_hides_the_value() {
        let p = NewPassword::parse("correct horse battery", "a@b.org").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
