//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second
//! steps, as Google Authenticator, FreeOTP and Aegis expect. The secret is 20 random bytes,
//! shown to the person in base32 (RFC 4648, no padding) and as an `otpauth://` URI.
//!
//! Verification returns the matching time step, so the caller can refuse a replay of that step
//! or an older one (RFC 6238 §5.2).

use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Steps accepted either side of now, for clock drift and slow typing.
pub const WINDOW_STEPS: i64 = 1;
const DIGITS: u32 = 6;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// 20 random bytes (160 bits, the HMAC-SHA-1 block output size RFC 4226 recommends).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// Reads the base32 form (case, spaces and padding forgiven); `None` if it is not base32.
    #[must_use]
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let value = BASE32
                .iter()
                .position(|&b| char::from(b) == c.to_ascii_uppercase())?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    /// The base32 form, as authenticator apps take it when typed in.
    #[must_use]
    pub fn to_base32(&self) -> String {
        let mut text = String::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &byte in &self.0 {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                text.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            text.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        text
    }

    /// The `otpauth://totp/…` URI that authenticator apps read from a QR code.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let encode = |s: &str| -> String {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            encode(issuer),
            encode(account),
            self.to_base32(),
            encode(issuer),
        )
    }

    /// The code for one time step (RFC 4226 dynamic truncation).
    #[must_use]
    pub fn code_at_step(&self, step: i64) -> String {
        let mut mac =
            <Hmac<Sha1> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(&step.to_be_bytes());
        let hash = mac.finalize().into_bytes();
        let offset = usize::from(hash[hash.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            hash[offset] & 0x7f,
            hash[offset + 1],
            hash[offset + 2],
            hash[offset + 3],
        ]);
        format!("{:06}", binary % 10u32.pow(DIGITS))
    }

    /// The code valid at `unix_seconds`.
    #[must_use]
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_at_step(step_of(unix_seconds))
    }

    /// The step whose code `typed` is, within the window around `unix_seconds`, if any.
    /// Spaces are ignored (apps show `123 456`); the comparison is constant-time.
    #[must_use]
    pub fn verify(&self, typed: &str, unix_seconds: i64) -> Option<i64> {
        let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = step_of(unix_seconds);
        // Every candidate is computed and compared, so timing does not reveal which matched.
        let mut matched = None;
        for step in (now - WINDOW_STEPS)..=(now + WINDOW_STEPS) {
            if crate::constant_time_eq(&self.code_at_step(step), &typed) {
                matched = Some(step);
            }
        }
        matched
    }
}

/// The RFC 6238 time step of a Unix time.
#[must_use]
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// A fresh recovery code, `xxxxx-xxxxx` in lower-case base32 (50 random bits): for when the
/// authenticator is lost. Shown once; only [`recovery_code_digest`] is stored.
#[must_use]
pub fn generate_recovery_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let letters: String = bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b % 32)]).to_ascii_lowercase())
        .collect();
    format!("{}-{}", &letters[..5], &letters[5..])
}

/// The stored form of a recovery code: HMAC-SHA-256 under a key derived from the master key
/// (so a copy of the table alone cannot be searched for codes), bound to the user. Case, spaces
/// and dashes in what the person typed do not matter.
#[must_use]
pub fn recovery_code_digest(key: &crate::MasterKey, user_id: &str, typed: &str) -> String {
    use std::fmt::Write;
    let normalized: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.derive("second-factor recovery codes"))
            .expect("HMAC takes a key of any length");
    mac.update(user_id.as_bytes());
    mac.update(b"\0");
    mac.update(normalized.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last 6 are the 6-digit code).
    #[test]
    fn rfc6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890");
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(time), eight_digits[2..], "at {time}");
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890");
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(secret.code_at_step(counter as i64), *code);
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc4648() {
        assert_eq!(TotpSecret::from_bytes(b"foobar").to_base32(), "MZXW6YTBOI");
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text.to_lowercase()), Some(secret));
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_returns_the_step() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = step_of(now);
        assert_eq!(secret.verify(&secret.code_at(now), now), Some(step));
        assert_eq!(
            secret.verify(&secret.code_at(now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            secret.verify(&secret.code_at(now + 30), now),
            Some(step + 1)
        );
        assert_eq!(secret.verify(&secret.code_at(now - 60), now), None);
        let code = secret.code_at(now);
        assert_eq!(
            secret.verify(&format!("{} {}", &code[..3], &code[3..]), now),
            Some(step)
        );
        assert_eq!(secret.verify("12345", now), None);
        assert_eq!(secret.verify("abcdef", now), None);
    }

    #[test]
    fn uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret::from_bytes(b"foobar");
        assert_eq!(
            secret.otpauth_uri("CHT Portal", "ana@example.org"),
            "otpauth://totp/CHT%20Portal:ana%40example.org?secret=MZXW6YTBOI&issuer=CHT%20Portal&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn recovery_codes_are_random_and_their_digest_forgives_typing() {
        let code = generate_recovery_code();
        assert_eq!(code.len(), 11);
        assert_ne!(code, generate_recovery_code());
        let key = crate::MasterKey::generate();
        let stored = recovery_code_digest(&key, "u1", &code);
        assert_eq!(stored.len(), 64);
        assert_eq!(
            recovery_code_digest(
                &key,
                "u1",
                &format!(" {} ", code.to_uppercase().replace('-', ""))
            ),
            stored
        );
        assert_ne!(recovery_code_digest(&key, "u2", &code), stored);
        assert_ne!(
            recovery_code_digest(&crate::MasterKey::generate(), "u1", &code),
            stored
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert_eq!(
            format!("{:?}", TotpSecret::from_bytes(b"x")),
            "TotpSecret(…)"
        );
    }
}
