//! JavaScript regular expressions, as UMT configs write them, run with the `regex` crate.
//!
//! UMT builds `new RegExp(pattern)` in Node. Most patterns mean the same in both engines; the
//! differences that matter are translated: `\d`, `\w` and `\b` are ASCII-only in JavaScript (they
//! are Unicode-aware in `regex`), `\uXXXX` escapes, letters escaped for no reason (`\a` is just
//! `a` in JavaScript), a `{` that starts no repetition, and `[`, `&`, `~` inside a class. What the
//! `regex` crate cannot run at all (look-around, back-references) is refused with a reason.

use std::fmt::{self, Write as _};

use regex::{Regex, RegexBuilder};

/// Largest compiled program accepted, so a hostile config cannot exhaust memory.
const SIZE_LIMIT: usize = 1 << 20;

/// A JavaScript-flavoured pattern from a config, kept as written and compiled for Rust.
///
/// Equality and serialisation use the source text and the case flag.
#[derive(Clone)]
pub struct JsRegex {
    source: String,
    case_insensitive: bool,
    regex: Regex,
}

impl JsRegex {
    /// Translates and compiles a JavaScript pattern.
    ///
    /// # Errors
    /// A sentence saying why the pattern cannot be used and how to rewrite it.
    pub fn new(source: &str, case_insensitive: bool) -> Result<Self, String> {
        let translated = translate(source)?;
        let regex = RegexBuilder::new(&translated)
            .case_insensitive(case_insensitive)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| describe_error(&e))?;
        Ok(Self {
            source: source.to_owned(),
            case_insensitive,
            regex,
        })
    }

    /// The pattern as written in the config.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled pattern, matching as UMT's JavaScript would.
    #[must_use]
    pub const fn regex(&self) -> &Regex {
        &self.regex
    }

    /// Whether matching ignores case (`name` strip patterns do; `regex` patterns do not).
    #[must_use]
    pub const fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }
}

impl PartialEq for JsRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.case_insensitive == other.case_insensitive
    }
}

impl Eq for JsRegex {}

impl fmt::Debug for JsRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = if self.case_insensitive { "i" } else { "" };
        write!(f, "/{}/{flags}", self.source)
    }
}

impl fmt::Display for JsRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl serde::Serialize for JsRegex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// The `regex` crate's message, without its multi-line caret drawing.
fn describe_error(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            let message = text
                .lines()
                .rev()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or(text.as_str());
            format!("cannot be compiled: {message}")
        }
        regex::Error::CompiledTooBig(_) => {
            "is too large once compiled (big counted repetitions such as {1000} multiply its \
             size): simplify it"
                .to_owned()
        }
        _ => format!("cannot be compiled: {e}"),
    }
}

/// Rewrites a JavaScript (non-unicode mode) pattern into `regex` syntax.
fn translate(js: &str) -> Result<String, String> {
    if let Some(inner) = slash_delimited(js) {
        return Err(format!(
            "is written with JavaScript's slashes: write only the pattern, {inner:?}, without \
             the surrounding / / (flags cannot be given)"
        ));
    }
    let chars: Vec<char> = js.chars().collect();
    let mut out = String::with_capacity(js.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(
                        "ends with a lone backslash: escape it as \\\\ or remove it".to_owned()
                    );
                };
                i += 2;
                i += escape(&chars, i, next, in_class, &mut out)?;
                continue;
            }
            '[' if in_class => out.push_str("\\["),
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '[' => {
                in_class = true;
                if chars.get(i + 1) == Some(&'^') && chars.get(i + 2) == Some(&']') {
                    // JavaScript's [^] matches any character.
                    out.push_str("(?s:.)");
                    in_class = false;
                    i += 3;
                    continue;
                }
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(2).collect();
                if rest.starts_with('=') || rest.starts_with('!') {
                    return Err(
                        "uses a look-ahead ((?= or (?!), which the portal's regex engine \
                         cannot run: rewrite the pattern without it"
                            .to_owned(),
                    );
                }
                if rest == "<=" || rest == "<!" {
                    return Err(
                        "uses a look-behind ((?<= or (?<!), which the portal's regex engine \
                         cannot run: rewrite the pattern without it"
                            .to_owned(),
                    );
                }
                out.push('(');
            }
            '{' if !in_class => match repetition_len(&chars[i..]) {
                Some(len) => {
                    out.extend(&chars[i..i + len]);
                    i += len;
                    continue;
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Appends the translation of escape `\next` (whose following characters start at `rest`) and
/// returns how many characters after `next` it consumed.
fn escape(
    chars: &[char],
    rest: usize,
    next: char,
    in_class: bool,
    out: &mut String,
) -> Result<usize, String> {
    // Character classes, ASCII as in JavaScript; nested classes are valid inside [...] in `regex`.
    let class = |set: &str, negated: bool, out: &mut String| match (in_class, negated) {
        (true, false) => out.push_str(set),
        (_, true) => {
            out.push_str("[^");
            out.push_str(set);
            out.push(']');
        }
        (false, false) => {
            out.push('[');
            out.push_str(set);
            out.push(']');
        }
    };
    match next {
        'd' => class("0-9", false, out),
        'D' => class("0-9", true, out),
        'w' => class("0-9A-Za-z_", false, out),
        'W' => class("0-9A-Za-z_", true, out),
        // JavaScript's \s also matches U+FEFF, which Unicode does not call white space.
        's' => class("\\s\\x{FEFF}", false, out),
        'S' => class("\\s\\x{FEFF}", true, out),
        'b' if in_class => out.push_str("\\x08"),
        'b' => out.push_str("(?-u:\\b)"),
        'B' if !in_class => out.push_str("(?-u:\\B)"),
        'f' | 'n' | 'r' | 't' | 'v' => {
            out.push('\\');
            out.push(next);
        }
        '0' if !chars.get(rest).is_some_and(char::is_ascii_digit) => out.push_str("\\x00"),
        '1'..='9' if !in_class => {
            return Err(format!(
                "uses the back-reference \\{next}, which the portal's regex engine cannot run: \
                 rewrite the pattern without it"
            ));
        }
        'k' if chars.get(rest) == Some(&'<') => {
            return Err(
                "uses a named back-reference (\\k<…>), which the portal's regex engine cannot \
                 run: rewrite the pattern without it"
                    .to_owned(),
            );
        }
        'x' => {
            if let Some(code) = hex(chars, rest, 2) {
                push_code_point(code, out);
                return Ok(2);
            }
            out.push('x');
        }
        'u' => {
            if let Some(unit) = hex(chars, rest, 4) {
                if (0xD800..0xDC00).contains(&unit) {
                    let low = (chars.get(rest + 4) == Some(&'\\')
                        && chars.get(rest + 5) == Some(&'u'))
                    .then(|| hex(chars, rest + 6, 4))
                    .flatten()
                    .filter(|low| (0xDC00..0xE000).contains(low));
                    let Some(low) = low else {
                        return Err(format!(
                            "contains \\u{unit:04X}, half of a surrogate pair: write the character \
                             itself instead"
                        ));
                    };
                    push_code_point(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), out);
                    return Ok(10);
                }
                if (0xDC00..0xE000).contains(&unit) {
                    return Err(format!(
                        "contains \\u{unit:04X}, half of a surrogate pair: write the character \
                         itself instead"
                    ));
                }
                push_code_point(unit, out);
                return Ok(4);
            }
            // Without four hex digits JavaScript reads a plain `u` (so `\u{41}` is 41 u's).
            out.push('u');
        }
        'c' if chars.get(rest).is_some_and(char::is_ascii_alphabetic) => {
            let letter = chars.get(rest).copied().unwrap_or('@');
            push_code_point(u32::from(letter) % 32, out);
            return Ok(1);
        }
        // Unicode properties: not JavaScript without the u flag, but what the author meant.
        'p' | 'P' if chars.get(rest) == Some(&'{') => {
            if let Some(len) = chars[rest..].iter().position(|&c| c == '}') {
                out.push('\\');
                out.push(next);
                out.extend(&chars[rest..=rest + len]);
                return Ok(len + 1);
            }
            out.push(next);
        }
        // Any other escaped character stands for itself in JavaScript.
        other => push_literal(other, out),
    }
    Ok(0)
}

/// `/pattern/flags` → `pattern`.
fn slash_delimited(js: &str) -> Option<&str> {
    let inner = js.strip_prefix('/')?;
    let end = inner.rfind('/')?;
    let flags = &inner[end + 1..];
    (end > 0 && flags.chars().all(|c| "dgimsuvy".contains(c))).then(|| &inner[..end])
}

/// The length of a counted repetition `{n}`, `{n,}` or `{n,m}` at the start of `chars`.
fn repetition_len(chars: &[char]) -> Option<usize> {
    let close = chars.iter().position(|&c| c == '}')?;
    let body: String = chars[1..close].iter().collect();
    let (low, high) = body.split_once(',').unwrap_or((&body, "0"));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    (digits(low) && (high.is_empty() || digits(high))).then_some(close + 1)
}

fn hex(chars: &[char], start: usize, len: usize) -> Option<u32> {
    let digits: String = chars.get(start..start + len)?.iter().collect();
    if digits.chars().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(&digits, 16).ok()
    } else {
        None
    }
}

fn push_code_point(code: u32, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\x{{{code:X}}}");
}

fn push_literal(c: char, out: &mut String) {
    // Only `regex` meta characters get a backslash: `\<` and `\>` would be word boundaries.
    out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(pattern: &str) -> Regex {
        JsRegex::new(pattern, false)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .regex
    }

    fn refused(pattern: &str) -> String {
        JsRegex::new(pattern, false).expect_err(pattern)
    }

    #[test]
    fn the_shared_configs_patterns_compile_and_behave() {
        assert!(js(r"^\d{6}$").is_match("123456"));
        assert!(!js(r"^\d{6}$").is_match("12345"));
        assert!(js(r"^[a-zA-Z- ]+$").is_match("Kampala Central"));
        assert!(!js(r"^[a-zA-Z- ]+$").is_match("Kampala 2"));
        let suffix = JsRegex::new(r"\sCommunity Health Unit", true).unwrap();
        assert_eq!(
            suffix
                .regex()
                .replace_all("Kiambu COMMUNITY health unit", ""),
            "Kiambu"
        );
        let possessive = JsRegex::new("['\u{2019}]s\\s.*$", true).unwrap();
        assert_eq!(
            possessive.regex().replace_all("Jane\u{2019}s Area", ""),
            "Jane"
        );
        assert!(js(r"\(\s*PHO\s*\)").is_match("Jane ( PHO )"));
    }

    #[test]
    fn digit_and_word_classes_are_ascii_as_in_javascript() {
        assert!(
            !js(r"^\d+$").is_match("١٢٣"),
            "Arabic-Indic digits are not \\d in JS"
        );
        assert!(js(r"^\D+$").is_match("١٢٣"));
        assert!(!js(r"^\w+$").is_match("é"));
        assert!(js(r"^[\w-]+$").is_match("a-b_c"));
        assert!(js(r"^[\W]+$").is_match("é!"));
        assert!(js(r"\bcat\b").is_match("a cat!"));
        assert!(js(r"^a\sb$").is_match("a\u{FEFF}b"));
    }

    #[test]
    fn javascript_escapes_are_translated() {
        assert!(js(r"^\u00e9$").is_match("é"));
        assert!(js(r"^\x41$").is_match("A"));
        assert!(js(r"^\uD83D\uDE00$").is_match("😀"));
        assert!(
            js(r"^\a\e\/$").is_match("ae/"),
            "identity escapes are the letter itself"
        );
        assert!(js(r"^\u$").is_match("u"));
        assert!(js(r"^[\b]$").is_match("\u{8}"));
        assert!(js(r"^\cJ$").is_match("\n"));
        assert!(js(r"^\0$").is_match("\0"));
        assert!(js(r"^\<\>$").is_match("<>"), "not word boundaries in JS");
        assert!(
            js(r"^\u{2}$").is_match("uu"),
            "non-unicode JS: a repeated u"
        );
        assert!(js(r"^\p{Lu}+$").is_match("ÉA"));
    }

    #[test]
    fn javascript_literal_braces_and_class_characters_are_escaped() {
        assert!(js(r"^{}$").is_match("{}"));
        assert!(js(r"^a{x$").is_match("a{x"));
        assert!(js(r"^a{2,}$").is_match("aaa"));
        assert!(js(r"^a{1,2}$").is_match("aa"));
        assert!(js(r"^[[&~]+$").is_match("[&~"));
        assert!(js(r"^[^]$").is_match("\n"));
        assert!(js(r"^(?<year>\d{4})$").is_match("2024"));
    }

    #[test]
    fn unsupported_features_are_refused_with_a_reason() {
        assert!(refused("^(?=a)").contains("look-ahead"));
        assert!(refused("^(?!a)").contains("look-ahead"));
        assert!(refused("(?<=a)b").contains("look-behind"));
        assert!(refused(r"(a)\1").contains("back-reference \\1"));
        assert!(refused(r"(?<x>a)\k<x>").contains("named back-reference"));
        assert!(refused(r"\uD83D").contains("surrogate"));
        assert!(refused("abc\\").contains("lone backslash"));
        assert!(refused("/^\\d+$/i").contains("without the surrounding / /"));
    }

    #[test]
    fn compile_errors_are_one_line() {
        let reason = refused("(abc");
        assert_eq!(reason, "cannot be compiled: unclosed group");
        let reason = refused("[z-a]");
        assert!(
            reason.starts_with("cannot be compiled: invalid character class range"),
            "{reason}"
        );
        assert!(refused(r"(\w{500}){500}").contains("too large"));
    }

    #[test]
    fn equality_and_debug_use_the_source() {
        let a = JsRegex::new("x", true).unwrap();
        assert_eq!(a, JsRegex::new("x", true).unwrap());
        assert_ne!(a, JsRegex::new("x", false).unwrap());
        assert_eq!(format!("{a:?}"), "/x/i");
        assert_eq!(a.to_string(), "x");
    }
}
