//! Phone numbers: `phonenumber` (libphonenumber's metadata) decides, with a fast path in front.
//!
//! `phonenumber` runs every metadata regex under one global mutex-protected cache, which costs
//! about 7 µs per number and serialises threads. Most uploaded numbers have one of four plain
//! shapes (`0712345678`, `712345678`, `+254712345678`, with spaces or dashes), so those are
//! checked against the same metadata patterns compiled once here, without the lock. The fast path
//! only ever *accepts*, and only when `phonenumber` would accept the same number with the same
//! result (it is stricter: whole-pattern matches, no national prefix left over, no country code
//! or international prefix to strip); anything else goes to `phonenumber`, which stays the
//! authority. A test compares both on many generated numbers and regions.

use std::panic::{AssertUnwindSafe, catch_unwind};

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{Mode, country};
use regex::{Regex, RegexBuilder};

/// Inputs longer than this are not phone numbers; they never reach the parser.
const MAX_INPUT_CHARS: usize = 64;

/// A phone property's compiled rule for one region.
#[derive(Debug, Clone)]
pub(crate) struct PhoneRule {
    region: String,
    id: Option<country::Id>,
    fast: Option<FastPath>,
    /// "0712123456 or +254712123456", for messages.
    example: String,
}

/// Why a value is not a phone number of the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PhoneError {
    /// Not a valid number at all.
    Invalid,
    /// A valid number of another region (its ISO code).
    OtherRegion(String),
}

impl PhoneRule {
    /// The rule for `region` (an ISO 3166 code such as `KE`). A region `phonenumber` does not
    /// know makes every value invalid rather than failing the config here (the config crate
    /// rejects such configs).
    pub(crate) fn new(region: &str) -> Self {
        let id: Option<country::Id> = region.parse().ok();
        let meta = DATABASE.by_id(region);
        let fast = meta.and_then(FastPath::new);
        let example = meta.map_or_else(String::new, example_of);
        Self {
            region: region.to_owned(),
            id,
            fast,
            example,
        }
    }

    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    pub(crate) fn example(&self) -> &str {
        &self.example
    }

    /// The number in E.164 (`+254712345678`).
    #[cfg(test)]
    pub(crate) fn format(&self, input: &str) -> Result<String, PhoneError> {
        let mut out = String::new();
        self.format_into(input, &mut out).map(|()| out)
    }

    /// [`Self::format`] into a reused buffer (cleared first).
    pub(crate) fn format_into(&self, input: &str, out: &mut String) -> Result<(), PhoneError> {
        out.clear();
        if self
            .fast
            .as_ref()
            .is_some_and(|f| f.accept_into(input, out))
        {
            return Ok(());
        }
        out.clear();
        out.push_str(&self.format_slow(input)?);
        Ok(())
    }

    /// `phonenumber`'s answer, ignoring the fast path (the authority, and what tests compare).
    pub(crate) fn format_slow(&self, input: &str) -> Result<String, PhoneError> {
        let Some(id) = self.id else {
            return Err(PhoneError::Invalid);
        };
        if input.chars().count() > MAX_INPUT_CHARS {
            return Err(PhoneError::Invalid);
        }
        // Third-party parsing of arbitrary text: a panic in it must not take the portal down.
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            let number = phonenumber::parse(Some(id), input).ok()?;
            if !phonenumber::is_valid(&number) {
                return None;
            }
            let region = number.country().id();
            Some(if region == Some(id) {
                Ok(number.format().mode(Mode::E164).to_string())
            } else {
                Err(region.map(|r| r.as_ref().to_owned()))
            })
        }));
        match parsed {
            Ok(Some(Ok(e164))) => Ok(e164),
            Ok(Some(Err(Some(other)))) => Err(PhoneError::OtherRegion(other)),
            _ => Err(PhoneError::Invalid),
        }
    }
}

/// "0712123456 or +254712123456": the region's example mobile number, nationally and in E.164.
fn example_of(meta: &Metadata) -> String {
    let descriptors = meta.descriptors();
    let example = descriptors
        .mobile()
        .and_then(Descriptor::example)
        .or_else(|| descriptors.fixed_line().and_then(Descriptor::example));
    let Some(example) = example else {
        return String::new();
    };
    let national = format!("{}{example}", meta.national_prefix().unwrap_or_default());
    format!("{national} or +{}{example}", meta.country_code())
}

/// The lock-free subset of `phonenumber`'s parsing for one region.
#[derive(Debug, Clone)]
struct FastPath {
    country_code: String,
    national_prefix: Option<String>,
    international_prefix: Option<Regex>,
    general: Regex,
    /// Mobile and fixed-line patterns with their possible lengths (empty: any length).
    types: Vec<(Regex, Vec<usize>)>,
}

impl FastPath {
    /// `None` for regions whose parsing needs rules this path does not model: a national-prefix
    /// parsing pattern or transform (Argentina, Brazil, the UK), or a country code shared by
    /// several regions (+1, +7, +44, …), where telling the region apart needs leading digits.
    fn new(meta: &Metadata) -> Option<Self> {
        if meta.national_prefix_for_parsing().is_some()
            || meta.national_prefix_transform_rule().is_some()
        {
            return None;
        }
        let code = meta.country_code();
        if DATABASE
            .region(&code)
            .is_none_or(|regions| regions.len() != 1)
        {
            return None;
        }
        let descriptors = meta.descriptors();
        let general = anchored(descriptors.general().national_number().as_str())?;
        let mut types = Vec::new();
        for descriptor in [descriptors.mobile(), descriptors.fixed_line()]
            .into_iter()
            .flatten()
        {
            let lengths = descriptor
                .possible_length()
                .iter()
                .map(|&l| usize::from(l))
                .collect();
            types.push((anchored(descriptor.national_number().as_str())?, lengths));
        }
        let international_prefix = match meta.international_prefix() {
            Some(idd) => Some(
                RegexBuilder::new(&format!("^(?:{})", idd.as_str()))
                    .ignore_whitespace(true)
                    .build()
                    .ok()?,
            ),
            None => None,
        };
        Some(Self {
            country_code: code.to_string(),
            national_prefix: meta.national_prefix().map(str::to_owned),
            international_prefix,
            general,
            types,
        })
    }

    /// Writes the E.164 form into `out` when the input is plainly a valid number of the region;
    /// `false` to let `phonenumber` decide.
    fn accept_into(&self, input: &str, out: &mut String) -> bool {
        let input = input.trim();
        let plus = input.starts_with('+');
        // A country code split by a separator ("+25-4…") is left to `phonenumber`.
        if plus && !input[1..].starts_with(self.country_code.as_str()) {
            return false;
        }
        // Digits on the stack: numbers longer than this are not plain.
        let mut buffer = [0u8; 24];
        let mut len = 0;
        for (i, c) in input.char_indices() {
            match c {
                '0'..='9' => {
                    let Some(slot) = buffer.get_mut(len) else {
                        return false;
                    };
                    *slot = c as u8;
                    len += 1;
                }
                '+' if i == 0 => {}
                ' ' | '-' if len > 0 => {}
                _ => return false,
            }
        }
        // Only ASCII digits were stored.
        let Ok(digits) = std::str::from_utf8(&buffer[..len]) else {
            return false;
        };
        let national = if plus {
            let Some(rest) = digits.strip_prefix(self.country_code.as_str()) else {
                return false;
            };
            rest
        } else {
            if digits.starts_with(self.country_code.as_str())
                || self
                    .international_prefix
                    .as_ref()
                    .is_some_and(|idd| idd.is_match(digits))
            {
                return false;
            }
            match &self.national_prefix {
                Some(prefix) => digits.strip_prefix(prefix.as_str()).unwrap_or(digits),
                None => digits,
            }
        };
        let leftover_prefix = self
            .national_prefix
            .as_ref()
            .is_some_and(|p| national.starts_with(p.as_str()));
        if leftover_prefix || national.starts_with('0') || !self.general.is_match(national) {
            return false;
        }
        let valid = self.types.iter().any(|(pattern, lengths)| {
            (lengths.is_empty() || lengths.contains(&national.len())) && pattern.is_match(national)
        });
        if valid {
            out.push('+');
            out.push_str(&self.country_code);
            out.push_str(national);
        }
        valid
    }

    /// [`Self::accept_into`], allocating (for tests).
    #[cfg(test)]
    fn accept(&self, input: &str) -> Option<String> {
        let mut out = String::new();
        self.accept_into(input, &mut out).then_some(out)
    }
}

/// A metadata pattern (written with insignificant white space) matching whole strings only.
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kenyan_numbers_become_e164() {
        let ke = PhoneRule::new("KE");
        for input in [
            "0712345678",
            "712345678",
            "+254712345678",
            "254712345678",
            "0712 345 678",
            "0712-345-678",
            "+254 712 345 678",
            "(0712) 345678",
            "+2540712345678",
        ] {
            assert_eq!(ke.format(input).as_deref(), Ok("+254712345678"), "{input}");
        }
        assert_eq!(ke.format("0712"), Err(PhoneError::Invalid));
        assert_eq!(ke.format("hello"), Err(PhoneError::Invalid));
        assert_eq!(ke.format(""), Err(PhoneError::Invalid));
        assert_eq!(
            ke.format("+256712345678"),
            Err(PhoneError::OtherRegion("UG".to_owned()))
        );
        assert_eq!(ke.example(), "0712123456 or +254712123456");
    }

    #[test]
    fn unknown_regions_refuse_everything() {
        let nowhere = PhoneRule::new("ZZ");
        assert_eq!(nowhere.format("0712345678"), Err(PhoneError::Invalid));
    }

    /// Deterministic pseudo-random numbers (no extra dependency for tests).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            self.0 >> 33
        }
    }

    /// The fast path never disagrees with `phonenumber` when it answers.
    #[test]
    fn fast_path_agrees_with_phonenumber() {
        let mut rng = Lcg(42);
        let separators = ["", " ", "-", "  "];
        for region in [
            "KE", "UG", "TZ", "NP", "TG", "CI", "ML", "FR", "IN", "NG", "ZA", "CD",
        ] {
            let rule = PhoneRule::new(region);
            let Some(fast) = &rule.fast else { continue };
            let mut accepted = 0;
            for _ in 0..3_000 {
                let len = 6 + rng.next() % 8;
                let mut number: String = (0..len)
                    .map(|_| char::from(b'0' + (rng.next() % 10) as u8))
                    .collect();
                if rng.next() % 3 == 0 {
                    // Mostly-valid numbers: start from the region's example.
                    let meta = DATABASE.by_id(region).unwrap();
                    let example = meta.descriptors().mobile().unwrap().example().unwrap();
                    let keep = example.len() - (rng.next() % 4) as usize;
                    number = format!("{}{}", &example[..keep], &number[..example.len() - keep]);
                }
                let prefixed = match rng.next() % 5 {
                    0 => format!("+{}{number}", fast.country_code),
                    1 => format!("0{number}"),
                    2 => format!("{}{number}", fast.country_code),
                    3 => format!("00{number}"),
                    _ => number,
                };
                let sep = separators[(rng.next() % 4) as usize];
                let spaced: String = prefixed
                    .chars()
                    .enumerate()
                    .flat_map(|(i, c)| {
                        let s = if i > 0 && i % 3 == 0 { sep } else { "" };
                        s.chars().chain(std::iter::once(c))
                    })
                    .collect();
                if let Some(fast_answer) = fast.accept(&spaced) {
                    accepted += 1;
                    assert_eq!(
                        rule.format_slow(&spaced).as_deref(),
                        Ok(fast_answer.as_str()),
                        "{region} {spaced:?}"
                    );
                }
            }
            // Côte d'Ivoire's numbers start with 0 (kept in E.164): always the slow path.
            let leading_zero = DATABASE
                .by_id(region)
                .unwrap()
                .descriptors()
                .mobile()
                .unwrap()
                .example()
                .unwrap()
                .starts_with('0');
            assert!(
                leading_zero || accepted > 100,
                "{region}: the fast path accepted only {accepted}"
            );
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let mut rng = Lcg(7);
        let alphabet: Vec<char> = "0123456789+-() .#*xX;/tel:ext=".chars().collect();
        let ke = PhoneRule::new("KE");
        for _ in 0..5_000 {
            let len = rng.next() % 30;
            let s: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = ke.format(&s);
        }
    }
}
