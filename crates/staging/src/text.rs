//! Text normalisation shared by the formatters, the hierarchy matcher and the warnings.
//!
//! Everything here writes into a caller-provided buffer so the per-row hot path can reuse
//! allocations.

use regex::{Regex, RegexSet, RegexSetBuilder};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Typographic apostrophes people paste from word processors; treated as `'`.
const fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// The punctuation UMT's `string` type keeps besides letters, numbers, marks and spaces.
const fn is_kept_punctuation(c: char) -> bool {
    matches!(c, '(' | ')' | '@' | '.' | '/' | '-' | '_' | '\'')
}

/// UMT's `string` formatting: keeps letters, numbers, combining marks (so Devanagari and accented
/// text survive), spaces and `()@./-_'`; drops everything else (including `<` and `>`); turns
/// every run of white space into one space; trims. Typographic apostrophes become `'` first
/// (UMT dropped them, which turned "O’Brien" into "OBrien").
pub(crate) fn format_string_into(input: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    for c in input.chars() {
        let c = if is_apostrophe(c) { '\'' } else { c };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_alphanumeric() || is_kept_punctuation(c) || is_combining_mark(c) {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
}

/// A `name` property's strip patterns, with a set that tells in one pass whether any applies
/// (most values carry none of the configured suffixes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Strip {
    each: Vec<Regex>,
    any: Option<RegexSet>,
}

impl Strip {
    /// The patterns, applied in order; they are compiled as the config says (case-insensitive
    /// for `name` properties).
    pub(crate) fn new(each: Vec<Regex>, case_insensitive: bool) -> Self {
        let any = RegexSetBuilder::new(each.iter().map(Regex::as_str))
            .case_insensitive(case_insensitive)
            .size_limit(1 << 22)
            .build()
            .ok();
        Self { each, any }
    }
}

/// UMT's `name` formatting: `.` becomes a space and `/` becomes ` / `, each `strip` pattern is
/// removed (all its matches, in the configured order), then [`format_string_into`] and
/// [`title_case_into`]. `scratch` is a reusable buffer.
pub(crate) fn format_name_into(input: &str, strip: &Strip, scratch: &mut String, out: &mut String) {
    scratch.clear();
    for c in input.chars() {
        match c {
            '.' => scratch.push(' '),
            '/' => scratch.push_str(" / "),
            c => scratch.push(c),
        }
    }
    let any = strip.any.as_ref().is_none_or(|set| set.is_match(scratch));
    if any {
        for re in &strip.each {
            if re.is_match(scratch) {
                let replaced = re.replace_all(scratch, "").into_owned();
                *scratch = replaced;
            }
        }
    }
    format_string_into(scratch, out);
    title_case_into(out, scratch);
    std::mem::swap(scratch, out);
}

/// A word character for title casing: letters, digits, marks and apostrophes; everything else
/// (space, `-`, `(`, `)`, `/`, `@`, `.`, `_`) separates words.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || is_combining_mark(c)
}

/// Title case as UMT applies it to names: each word gets an upper-case first letter and lower-case
/// rest, so hyphenated and parenthesised parts are capitalised too ("mary-jane (pho)" →
/// "Mary-Jane (Pho)"); Roman numerals after the first word are upper-cased ("Robert xiv" →
/// "Robert XIV"); after an apostrophe that follows a single letter the next letter is capitalised
/// ("o'brien" → "O'Brien") but not otherwise ("mary's" → "Mary's").
///
/// Roman numerals are limited to I, V and X (1–39), and never the first word, so names such as
/// "Xi", "Li" or "Mix" are not shouted.
pub(crate) fn title_case_into(input: &str, out: &mut String) {
    out.clear();
    let mut word_index = 0usize;
    let mut rest = input;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        let (word, after) = rest.split_at(split);
        if !word.is_empty() {
            push_title_word(word, word_index > 0, out);
            word_index += 1;
        }
        let mut chars = after.chars();
        if let Some(separator) = chars.next() {
            out.push(separator);
        }
        rest = chars.as_str();
    }
}

fn push_title_word(word: &str, may_be_numeral: bool, out: &mut String) {
    if may_be_numeral && is_roman_numeral(word) {
        out.push_str(&word.to_ascii_uppercase());
        return;
    }
    let mut capitalise_next = true;
    let mut letters_before_apostrophe = 0usize;
    let mut seen_apostrophe = false;
    for c in word.chars() {
        if c == '\'' {
            // "o'brien", "n'djamena": one letter, then the name proper.
            capitalise_next = !seen_apostrophe && letters_before_apostrophe == 1;
            seen_apostrophe = true;
            out.push(c);
            continue;
        }
        if capitalise_next && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        if !is_combining_mark(c) {
            capitalise_next = false;
            if !seen_apostrophe {
                letters_before_apostrophe += 1;
            }
        }
    }
}

/// I–XXXIX, case-insensitive, in canonical form (so "iiii" or "vx" are not numerals).
fn is_roman_numeral(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    if lower.is_empty() || !lower.bytes().all(|b| matches!(b, b'i' | b'v' | b'x')) {
        return false;
    }
    let tens = lower.bytes().take_while(|&b| b == b'x').count();
    if tens > 3 {
        return false;
    }
    matches!(
        &lower[tens..],
        "" | "i" | "ii" | "iii" | "iv" | "v" | "vi" | "vii" | "viii" | "ix"
    )
}

/// The key under which names are compared: lower case, without Latin diacritics ("Ménéz" and
/// "menez" compare equal), typographic apostrophes as `'`, white space collapsed and trimmed.
///
/// Only the Combining Diacritical Marks block is removed after decomposition, so scripts whose
/// vowel signs are marks (Devanagari) keep them and distinct names stay distinct.
pub(crate) fn fold_into(input: &str, out: &mut String) {
    out.clear();
    if input.is_ascii() {
        // The common case, byte by byte.
        let mut pending_space = false;
        for b in input.bytes() {
            if b.is_ascii_whitespace() {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(char::from(if b == b'`' {
                b'\''
            } else {
                b.to_ascii_lowercase()
            }));
        }
        return;
    }
    let mut pending_space = false;
    for c in input.nfd() {
        if ('\u{0300}'..='\u{036F}').contains(&c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if is_apostrophe(c) {
            out.push('\'');
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// [`fold_into`], allocating.
pub(crate) fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    fold_into(input, &mut out);
    out
}

/// UMT's username rule (§4.4): spaces become `_`, everything outside `[a-z0-9_]` is dropped, runs
/// of `_` collapse, lower case. Accents are removed first ("Ménéz" → "menez", where UMT produced
/// "mnz"), and leading or trailing `_` are trimmed. `None` when nothing is left (a name written
/// only in another script), so the caller picks a fallback.
#[must_use]
pub fn sanitize_username(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for c in name.nfd() {
        let c = if c.is_whitespace() { '_' } else { c };
        if c == '_' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut out = String::new();
        format_string_into(s, &mut out);
        out
    }

    fn name(s: &str, strip: &[&str]) -> String {
        let compiled: Vec<Regex> = strip
            .iter()
            .map(|p| {
                regex::RegexBuilder::new(p)
                    .case_insensitive(true)
                    .build()
                    .unwrap()
            })
            .collect();
        let (mut scratch, mut out) = (String::new(), String::new());
        format_name_into(s, &Strip::new(compiled, true), &mut scratch, &mut out);
        out
    }

    #[test]
    fn string_keeps_letters_numbers_marks_and_some_punctuation() {
        assert_eq!(string("  Jane   <b>Doe</b>!  "), "Jane bDoe/b");
        assert_eq!(string("a@b.c (x)-y_z'w"), "a@b.c (x)-y_z'w");
        assert_eq!(string("Ménéz\u{00A0}\tNyeri"), "Ménéz Nyeri");
        // Devanagari vowel signs and virama are marks: kept.
        assert_eq!(string("काठमाडौं  जिल्ला"), "काठमाडौं जिल्ला");
        assert_eq!(string("O’Brien"), "O'Brien");
        assert_eq!(string(""), "");
        assert_eq!(string(" ! "), "");
    }

    #[test]
    fn names_follow_umt_examples() {
        assert_eq!(name("KYAMBOO/KALILUNI", &[]), "Kyamboo / Kaliluni");
        assert_eq!(name("Robert xiv", &[]), "Robert XIV");
        assert_eq!(name("jane.doe", &[]), "Jane Doe");
        assert_eq!(name("mary-jane (pho)", &[]), "Mary-Jane (Pho)");
        assert_eq!(name("o'brien mary's", &[]), "O'Brien Mary's");
        assert_eq!(name("n’djamena", &[]), "N'Djamena");
        assert_eq!(name("kibera ii", &[]), "Kibera II");
        assert_eq!(name("xi li", &[]), "Xi Li");
        assert_eq!(name("block iiii", &[]), "Block Iiii");
        assert_eq!(name("3rd avenue", &[]), "3rd Avenue");
        assert_eq!(name("ÉLODIE ÇA", &[]), "Élodie Ça");
    }

    #[test]
    fn names_strip_configured_patterns_case_insensitively() {
        let chu = [
            r"\sCommunity Health Unit",
            r"\sCommunity Unit",
            r"\sUnit",
            r"\sCU",
            r"\sCHU",
        ];
        assert_eq!(name("Kyamboo community health unit", &chu), "Kyamboo");
        assert_eq!(name("Kyamboo CHU", &chu), "Kyamboo");
        assert_eq!(name("KYAMBOO cu", &chu), "Kyamboo");
        assert_eq!(name("Cuba", &chu), "Cuba");
        let chp = [
            r"['’]s\s.*$",
            r"\sCommunity",
            r"\sHealth",
            r"\sVolunteer",
            r"\sArea",
        ];
        assert_eq!(
            name("Jane Doe’s Community Health Volunteer Area", &chp),
            "Jane Doe"
        );
        assert_eq!(name("Jane Doe Area", &chp), "Jane Doe");
        assert_eq!(name("Jane (PHO)", &[r"\(\s*PHO\s*\)"]), "Jane");
    }

    #[test]
    fn fold_ignores_case_accents_and_spacing() {
        assert_eq!(fold("  Nyeri   MÉNÉZ "), "nyeri menez");
        assert_eq!(fold("Nyeri Me\u{0301}ne\u{0301}z"), "nyeri menez");
        assert_eq!(fold("O’Brien"), "o'brien");
        assert_ne!(fold("काठ"), fold("कठ"));
    }

    #[test]
    fn usernames_are_sanitised() {
        assert_eq!(sanitize_username("Jane Doe").as_deref(), Some("jane_doe"));
        assert_eq!(
            sanitize_username("  Ménéz  O'Brien-Smith ").as_deref(),
            Some("menez_obriensmith")
        );
        assert_eq!(sanitize_username("A / B").as_deref(), Some("a_b"));
        assert_eq!(sanitize_username("काठ"), None);
        assert_eq!(sanitize_username(""), None);
    }
}
