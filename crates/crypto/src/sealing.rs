//! Secrets at rest (CHT service-account passwords) sealed with XChaCha20-Poly1305.
//!
//! A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext)>`. The key id (the first bytes of
//! the key's SHA-256) lets a future key rotation tell which key sealed a value, and the caller's
//! *context* (for example the instance id) is bound as associated data, so a ciphertext copied
//! to another row does not decrypt.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// The 256-bit key that seals secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error("is not valid base64 ({0})")]
    NotBase64(String),
    #[error("decodes to {0} bytes; a master key is exactly 32 bytes (44 base64 characters)")]
    WrongLength(usize),
}

impl MasterKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    #[must_use]
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let id = hex_prefix(&digest[..4]);
        Self { key, id }
    }

    /// Parses the standard base64 form used in config files and environment variables.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| MasterKeyError::NotBase64(e.to_string()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::WrongLength(bytes.len()))?;
        Ok(Self::from_bytes(key))
    }

    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key)
    }

    /// A key for another purpose, derived from this one so that it never needs storing: HMAC of
    /// the purpose's label under the master key.
    #[must_use]
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A short, non-secret fingerprint of the key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> Sealed {
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Sealed(format!(
            "{VERSION}.{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Opens a value sealed with this key and the same `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<String, SealError> {
        let mut parts = sealed.0.splitn(3, '.');
        let (Some(version), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        if version != VERSION {
            return Err(SealError::UnknownVersion(version.to_owned()));
        }
        if key_id != self.id {
            return Err(SealError::WrongKey {
                sealed_with: key_id.to_owned(),
                current: self.id.clone(),
            });
        }
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(plaintext).map_err(|_| SealError::Malformed)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A sealed secret as stored in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    #[must_use]
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the stored secret is not in the sealed format")]
    Malformed,
    #[error("the stored secret uses sealing version {0}, which this build does not know")]
    UnknownVersion(String),
    #[error(
        "the stored secret was sealed with master key {sealed_with}, but the portal runs with key {current}; start it with the key it was sealed with"
    )]
    WrongKey {
        sealed_with: String,
        current: String,
    },
    #[error(
        "the stored secret failed its integrity check (tampered with, or moved from another record)"
    )]
    Tampered,
}

fn hex_prefix(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_plaintext_in_output() {
        let key = MasterKey::generate();
        let sealed = key.seal("s3cret-medic-pass", "instance:1");
        assert!(!sealed.as_str().contains("s3cret"));
        assert!(sealed.as_str().starts_with(&format!("v1.{}.", key.id())));
        assert_eq!(
            key.open(&sealed, "instance:1").unwrap(),
            "s3cret-medic-pass"
        );
    }

    #[test]
    fn nonces_differ_between_seals() {
        let key = MasterKey::generate();
        assert_ne!(key.seal("x", "c"), key.seal("x", "c"));
    }

    #[test]
    fn context_is_bound() {
        let key = MasterKey::generate();
        let sealed = key.seal("secret", "instance:1");
        assert_eq!(key.open(&sealed, "instance:2"), Err(SealError::Tampered));
    }

    #[test]
    fn wrong_key_is_named() {
        let sealed = MasterKey::generate().seal("secret", "c");
        let other = MasterKey::generate();
        assert!(matches!(
            other.open(&sealed, "c"),
            Err(SealError::WrongKey { .. })
        ));
    }

    #[test]
    fn flipped_bit_is_detected() {
        let key = MasterKey::generate();
        let sealed = key.seal("secret", "c").into_string();
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = Sealed::from_stored(String::from_utf8(bytes).unwrap());
        assert_eq!(key.open(&tampered, "c"), Err(SealError::Tampered));
    }

    #[test]
    fn base64_parsing_reports_length() {
        let key = MasterKey::generate();
        let parsed = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(parsed.id(), key.id());
        assert_eq!(
            MasterKey::from_base64("AAAA").unwrap_err(),
            MasterKeyError::WrongLength(3)
        );
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(MasterKeyError::NotBase64(_))
        ));
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
