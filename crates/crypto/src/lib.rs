//! Cryptographic building blocks of CHT Portal, each behind a small, hard-to-misuse API:
//! password hashing ([`password`]), sealing secrets at rest ([`sealing`]), random tokens
//! ([`token`]), one-time codes for the second factor ([`totp`]) and keyed digests of personal data for the audit trail ([`digest`]).

pub mod digest;
pub mod password;
pub mod sealing;
pub mod token;
pub mod totp;

pub use digest::AuditDigester;
pub use password::{PasswordHashError, hash_password, verify_against_dummy, verify_password};
pub use sealing::{MasterKey, MasterKeyError, SealError, Sealed};
pub use token::{Token, constant_time_eq};
pub use totp::TotpSecret;
