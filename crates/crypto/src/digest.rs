//! Keyed digests of personal data, for the audit trail (ADR 0007).
//!
//! The audit table is append-only and kept for years; a CHW's name or phone number written there
//! could never be corrected or erased. Where an event needs to say *that* a value changed, it
//! records a keyed digest instead: HMAC-SHA256 under a key derived from the master key, with the
//! tenant in the input so equal values in two tenants do not match. An investigator who holds a
//! candidate value (and the portal's key) can confirm it; someone who reads the table cannot
//! reverse it or test guesses offline, as they could with a plain hash of a phone number.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::MasterKey;

/// The label of the derived key; a new label is a new key.
const PURPOSE: &str = "cht-portal audit digest v1";

/// Computes keyed digests of values that must not be stored as they are.
#[derive(Clone)]
pub struct AuditDigester {
    key: [u8; 32],
    key_id: String,
}

impl std::fmt::Debug for AuditDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditDigester")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditDigester {
    #[must_use]
    pub fn new(master: &MasterKey) -> Self {
        Self {
            key: master.derive(PURPOSE),
            key_id: master.id().to_owned(),
        }
    }

    /// `hmac:<master key id>:<32 hex digits>` for `value` in the tenant `scope`. The key id says
    /// which master key can confirm it after a rotation.
    #[must_use]
    pub fn digest(&self, scope: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(value.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("hmac:{}:{hex}", self.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_keyed_and_scoped() {
        let key = MasterKey::generate();
        let digester = AuditDigester::new(&key);
        let a = digester.digest("tenant-1", "0712345678");
        assert_eq!(a, digester.digest("tenant-1", "0712345678"));
        assert!(a.starts_with(&format!("hmac:{}:", key.id())));
        assert!(!a.contains("0712345678"));
        assert_ne!(a, digester.digest("tenant-2", "0712345678"));
        assert_ne!(a, digester.digest("tenant-1", "0712345679"));
        assert_ne!(
            a,
            AuditDigester::new(&MasterKey::generate()).digest("tenant-1", "0712345678")
        );
        assert_ne!(digester.digest("ab", "c"), digester.digest("a", "bc"));
    }
}
