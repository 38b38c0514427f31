//! Formatting and validation of one value by its property type, with UMT's semantics (its §3).
//!
//! A [`PropertyRule`] is compiled once per config (regexes, option tables, phone metadata) and
//! applied to every row. `generated` properties are not handled here: they need the whole row
//! and are rendered by the engine.

mod phone;

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use portal_deploy_config::{ConfigProperty, JsRegex, PropertyKind};
use regex::{Regex, RegexBuilder};

use crate::problem::{Problem, ProblemKind};
use crate::text::{Strip, fold, format_name_into, format_string_into};

use phone::PhoneError;
pub(crate) use phone::PhoneRule;

/// The message for every empty required value: UMT's words ("Is Required"), in the sentence case
/// of the portal's other messages.
pub const REQUIRED: &str = "is required";

const DOB_MESSAGE: &str = "Not a valid Date of Birth (eg. 1990-02-26 or 26/2/1985 or 38)";

/// Oldest age accepted when a date of birth is written as an age.
const MAX_AGE: u32 = 130;

/// How values of one property are formatted and checked.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    String,
    Name {
        strip: Strip,
    },
    Regex {
        full: Regex,
        message: String,
    },
    Phone(PhoneRule),
    Dob,
    SelectOne(Options),
    SelectMultiple(Options),
    /// Rendered by the engine; here only "stored as is".
    Generated,
    None,
}

impl Kind {
    pub(crate) fn of(property: &ConfigProperty) -> Self {
        match &property.kind {
            PropertyKind::String => Self::String,
            PropertyKind::Name { strip } => Self::Name {
                strip: strip_of(strip),
            },
            PropertyKind::Regex { pattern, .. } => Self::Regex {
                full: full_match(pattern),
                message: property.mismatch_message().unwrap_or_default(),
            },
            PropertyKind::Phone { region } => Self::Phone(PhoneRule::new(region)),
            PropertyKind::Dob => Self::Dob,
            PropertyKind::SelectOne { options } => Self::SelectOne(Options::new(options)),
            PropertyKind::SelectMultiple { options } => Self::SelectMultiple(Options::new(options)),
            PropertyKind::Generated { .. } => Self::Generated,
            PropertyKind::None => Self::None,
        }
    }
}

/// A `name` property's strip patterns, compiled case-insensitively as the config crate does.
pub(crate) fn strip_of(patterns: &[JsRegex]) -> Strip {
    Strip::new(
        patterns.iter().map(|r| r.regex().clone()).collect(),
        patterns.iter().any(JsRegex::is_case_insensitive),
    )
}

/// The pattern anchored at both ends, so `regex` values must match as a whole (UMT tested with an
/// unanchored `test()`; both shared configs anchor their patterns anyway). Falls back to the
/// pattern as given if the anchored form does not compile.
fn full_match(pattern: &JsRegex) -> Regex {
    RegexBuilder::new(&format!("^(?:{})$", pattern.regex().as_str()))
        .case_insensitive(pattern.is_case_insensitive())
        .size_limit(1 << 20)
        .build()
        .unwrap_or_else(|_| pattern.regex().clone())
}

/// Option keys and labels, with a folded lookup so labels and any letter case are accepted.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    options: Vec<(String, String)>,
    lookup: HashMap<String, usize>,
}

impl Options {
    pub(crate) fn new(options: &[(String, String)]) -> Self {
        let mut lookup = HashMap::with_capacity(options.len() * 2);
        // Labels first, so a key that equals another option's label still wins.
        for (i, (_, label)) in options.iter().enumerate() {
            lookup.entry(fold(label)).or_insert(i);
        }
        for (i, (key, _)) in options.iter().enumerate() {
            lookup.insert(fold(key), i);
        }
        Self {
            options: options.to_vec(),
            lookup,
        }
    }

    /// The key for a value: the key itself, or any key or label ignoring case and accents.
    fn key_of(&self, value: &str) -> Option<&str> {
        if let Some((key, _)) = self.options.iter().find(|(key, _)| key == value) {
            return Some(key);
        }
        self.lookup
            .get(&fold(value))
            .map(|&i| self.options[i].0.as_str())
    }

    /// `yes ("Yes"), no ("No")`, for fixes.
    fn describe(&self) -> String {
        self.options
            .iter()
            .map(|(key, label)| {
                if key == label || label.trim().is_empty() {
                    key.clone()
                } else {
                    format!("{key} (\"{label}\")")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a value failed, without the column and value (the caller knows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) kind: ProblemKind,
    pub(crate) message: String,
    pub(crate) fix: String,
}

impl Invalid {
    fn new(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            kind: ProblemKind::Invalid,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Buffers reused from one value to the next.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    a: String,
}

/// The formatter and validator of one property (a CSV column or form field).
#[derive(Debug, Clone)]
pub struct PropertyRule {
    /// The column header (`friendly_name`).
    pub(crate) column: String,
    /// The attribute name on the CHT document.
    pub(crate) property_name: String,
    pub(crate) required: bool,
    pub(crate) kind: Kind,
}

impl PropertyRule {
    /// Compiles a property's rule: regexes anchored, option tables folded, phone metadata looked
    /// up. `generated` properties compile to a rule that stores what the engine renders.
    #[must_use]
    pub fn new(property: &ConfigProperty) -> Self {
        Self::from_parts(
            &property.friendly_name,
            &property.property_name,
            property.required,
            Kind::of(property),
        )
    }

    pub(crate) fn from_parts(
        column: &str,
        property_name: &str,
        required: bool,
        kind: Kind,
    ) -> Self {
        Self {
            column: column.to_owned(),
            property_name: property_name.to_owned(),
            required,
            kind,
        }
    }

    /// The column header (`friendly_name`) this rule checks.
    #[must_use]
    pub fn column(&self) -> &str {
        &self.column
    }

    /// The attribute name the value is written to.
    #[must_use]
    pub fn property_name(&self) -> &str {
        &self.property_name
    }

    /// Formats and checks one value; `today` decides which dates of birth are in the past.
    ///
    /// `Ok` holds the formatted value (empty for an empty optional value).
    ///
    /// # Errors
    /// A [`Problem`] naming the column and the value as entered, what is wrong and how to fix it.
    pub fn check(&self, raw: &str, today: NaiveDate) -> Result<String, Problem> {
        let mut out = String::new();
        self.check_into(raw, today, &mut Scratch::default(), &mut out)
            .map(|()| out)
            .map_err(|e| Problem::new(e.kind, Some(&self.column), raw, e.message, e.fix))
    }

    /// [`Self::check`] into a reused buffer: `out` holds the formatted value on success.
    pub(crate) fn check_into(
        &self,
        raw: &str,
        today: NaiveDate,
        scratch: &mut Scratch,
        out: &mut String,
    ) -> Result<(), Invalid> {
        out.clear();
        let raw = raw.trim();
        if raw.is_empty() {
            return if self.required {
                Err(self.required_problem(raw))
            } else {
                Ok(())
            };
        }
        match &self.kind {
            Kind::String => format_string_into(raw, out),
            Kind::Name { strip } => format_name_into(raw, strip, &mut scratch.a, out),
            Kind::Regex { full, message } => {
                format_string_into(raw, out);
                if !out.is_empty() && !full.is_match(out) {
                    return Err(Invalid::new(
                        message.clone(),
                        format!("{message}: correct the value (\"{out}\" does not fit)."),
                    ));
                }
            }
            Kind::Phone(rule) => {
                if let Err(error) = rule.format_into(raw, out) {
                    out.clear();
                    return Err(phone_problem(rule, &error));
                }
            }
            Kind::Dob => {
                let date = parse_dob(raw, today).ok_or_else(|| {
                    Invalid::new(
                        DOB_MESSAGE,
                        "Write the date as YYYY-MM-DD (1990-02-26) or D/M/YYYY (26/2/1990), or \
                         the age in years (38).",
                    )
                })?;
                if date > today {
                    return Err(Invalid::new(
                        DOB_MESSAGE,
                        format!("{date} is in the future: enter a date of birth in the past."),
                    ));
                }
                out.push_str(&date.format("%Y-%m-%d").to_string());
            }
            Kind::SelectOne(options) => match options.key_of(raw) {
                Some(key) => out.push_str(key),
                None => {
                    return Err(Invalid::new(
                        "Invalid value selected",
                        format!("Use one of: {}.", options.describe()),
                    ));
                }
            },
            Kind::SelectMultiple(options) => {
                let mut bad: Vec<&str> = Vec::new();
                for token in raw.split(|c: char| c.is_whitespace() || c == ',') {
                    if token.is_empty() {
                        continue;
                    }
                    match options.key_of(token) {
                        Some(key) if !out.split(' ').any(|k| k == key) => {
                            if !out.is_empty() {
                                out.push(' ');
                            }
                            out.push_str(key);
                        }
                        Some(_) => {}
                        None => bad.push(token),
                    }
                }
                if !bad.is_empty() {
                    return Err(Invalid::new(
                        format!(
                            "Invalid values for property \"{}\": {}",
                            self.column,
                            bad.join(", ")
                        ),
                        format!(
                            "Use values from: {}, separated by spaces.",
                            options.describe()
                        ),
                    ));
                }
            }
            Kind::Generated | Kind::None => out.push_str(raw),
        }
        if out.is_empty() && self.required {
            return Err(self.required_problem(raw));
        }
        Ok(())
    }

    fn required_problem(&self, raw: &str) -> Invalid {
        let fix = if raw.is_empty() {
            format!("Fill in \"{}\".", self.column)
        } else {
            format!(
                "Fill in \"{}\" with letters or numbers (\"{raw}\" has none).",
                self.column
            )
        };
        Invalid {
            kind: ProblemKind::Required,
            message: REQUIRED.to_owned(),
            fix,
        }
    }
}

fn phone_problem(rule: &PhoneRule, error: &PhoneError) -> Invalid {
    let region = rule.region();
    let example = if rule.example().is_empty() {
        String::new()
    } else {
        format!(", such as {}", rule.example())
    };
    let fix = match error {
        PhoneError::Invalid => format!("Enter a {region} phone number{example}."),
        PhoneError::OtherRegion(other) => {
            format!("This is a {other} number: enter a {region} phone number{example}.")
        }
    };
    Invalid::new(format!("Not a valid {region} phone number"), fix)
}

/// `YYYY-MM-DD`, `D/M/YYYY`, or an age in whole years (today minus that many years; 29 February
/// becomes 28 February in years without it).
fn parse_dob(raw: &str, today: NaiveDate) -> Option<NaiveDate> {
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if let Some((y, rest)) = raw.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        if y.len() != 4 {
            return None;
        }
        return NaiveDate::from_ymd_opt(i32::try_from(number(y)?).ok()?, number(m)?, number(d)?);
    }
    if let Some((d, rest)) = raw.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        if y.len() != 4 || d.len() > 2 || m.len() > 2 {
            return None;
        }
        return NaiveDate::from_ymd_opt(i32::try_from(number(y)?).ok()?, number(m)?, number(d)?);
    }
    let age = number(raw)?;
    if raw.len() > 3 || age > MAX_AGE {
        return None;
    }
    let year = today.year() - i32::try_from(age).ok()?;
    NaiveDate::from_ymd_opt(year, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, today.month(), today.day() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    fn rule(kind: Kind, required: bool) -> PropertyRule {
        PropertyRule::from_parts("Col", "col", required, kind)
    }

    fn ok(rule: &PropertyRule, raw: &str) -> String {
        rule.check(raw, today())
            .unwrap_or_else(|p| panic!("{raw}: {p}"))
    }

    fn err(rule: &PropertyRule, raw: &str) -> Problem {
        rule.check(raw, today()).expect_err(raw)
    }

    fn yes_no() -> Options {
        Options::new(&[("yes".into(), "Yes".into()), ("no".into(), "No".into())])
    }

    #[test]
    fn required_empty_is_required() {
        for kind in [
            Kind::String,
            Kind::Dob,
            Kind::None,
            Kind::SelectOne(yes_no()),
        ] {
            let p = err(&rule(kind, true), "   ");
            assert_eq!(
                (p.kind, p.message.as_str()),
                (ProblemKind::Required, REQUIRED)
            );
            assert_eq!(p.column.as_deref(), Some("Col"));
            assert_eq!(p.fix, "Fill in \"Col\".");
        }
        let p = err(&rule(Kind::String, true), "<>!");
        assert_eq!(p.message, REQUIRED);
        assert!(p.fix.contains("has none"), "{}", p.fix);
        assert_eq!(ok(&rule(Kind::Dob, false), ""), "");
    }

    #[test]
    fn strings_and_names_are_formatted() {
        assert_eq!(ok(&rule(Kind::String, true), " a  <b> "), "a b");
        let name = rule(
            Kind::Name {
                strip: Strip::default(),
            },
            true,
        );
        assert_eq!(ok(&name, "KYAMBOO/KALILUNI"), "Kyamboo / Kaliluni");
        assert_eq!(ok(&name, "Robert xiv"), "Robert XIV");
    }

    #[test]
    fn regex_matches_the_whole_formatted_value() {
        let code = rule(
            Kind::Regex {
                full: Regex::new(r"^(?:\d{6})$").unwrap(),
                message: "Expects a six digit number (eg. 123456)".into(),
            },
            true,
        );
        assert_eq!(ok(&code, " 123456 "), "123456");
        let p = err(&code, "1234567");
        assert_eq!(p.message, "Expects a six digit number (eg. 123456)");
        assert_eq!(p.value, "1234567");
        assert!(p.fix.contains("1234567"));
    }

    #[test]
    fn phones_become_e164_or_say_which_region() {
        let phone = rule(Kind::Phone(PhoneRule::new("KE")), true);
        assert_eq!(ok(&phone, "0712345678"), "+254712345678");
        let p = err(&phone, "0712");
        assert_eq!(p.message, "Not a valid KE phone number");
        assert_eq!(
            p.fix,
            "Enter a KE phone number, such as 0712123456 or +254712123456."
        );
        let p = err(&phone, "+256712345678");
        assert!(p.fix.starts_with("This is a UG number"), "{}", p.fix);
    }

    #[test]
    fn dates_of_birth() {
        let dob = rule(Kind::Dob, true);
        assert_eq!(ok(&dob, "1990-02-26"), "1990-02-26");
        assert_eq!(ok(&dob, "26/2/1985"), "1985-02-26");
        assert_eq!(ok(&dob, "20"), "2005-06-15");
        assert_eq!(ok(&dob, "0"), "2025-06-15");
        for bad in [
            "2030-01-01",
            "31/2/1990",
            "1990/02/26",
            "abc",
            "2000",
            "131",
            "-3",
            "1e3",
        ] {
            let p = err(&dob, bad);
            assert_eq!(p.message, DOB_MESSAGE, "{bad}");
        }
        assert!(err(&dob, "2030-01-01").fix.contains("future"));
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_dob("1", leap), NaiveDate::from_ymd_opt(2023, 2, 28));
    }

    #[test]
    fn select_one_accepts_keys_and_labels() {
        let sex = rule(
            Kind::SelectOne(Options::new(&[
                ("male".into(), "Male".into()),
                ("female".into(), "Female".into()),
            ])),
            true,
        );
        assert_eq!(ok(&sex, "female"), "female");
        assert_eq!(ok(&sex, "FEMALE"), "female");
        let p = err(&sex, "f");
        assert_eq!(p.message, "Invalid value selected");
        assert_eq!(p.fix, "Use one of: male (\"Male\"), female (\"Female\").");
    }

    #[test]
    fn select_multiple_checks_every_token() {
        let roles = PropertyRule::from_parts(
            "Roles",
            "roles",
            true,
            Kind::SelectMultiple(Options::new(&[
                ("chw".into(), "chw".into()),
                ("supervisor".into(), "supervisor".into()),
            ])),
        );
        assert_eq!(ok(&roles, " chw  Supervisor chw"), "chw supervisor");
        let p = err(&roles, "chw boss nurse");
        assert_eq!(
            p.message,
            "Invalid values for property \"Roles\": boss, nurse"
        );
    }

    #[test]
    fn none_keeps_the_value() {
        assert_eq!(ok(&rule(Kind::None, false), " <x> "), "<x>");
    }
}
