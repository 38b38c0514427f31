//! `generated` properties: Liquid templates over `{place, contact, lineage}`, parsed once per
//! config.
//!
//! Templates that are only text and `{{ scope.member }}` outputs (both shared configs' are, e.g.
//! `{{ contact.name }} Area ({{ place.village }})`) are rendered directly from the row's values,
//! without building Liquid objects per row; any other template goes through the `liquid` crate.
//! Both give what UMT's LiquidJS gave: empty or unknown values print nothing.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use liquid::model::{KString, Value};

/// Where a `{{ scope.member }}` output reads its value, resolved when the config is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A field's formatted value.
    Field(usize),
    /// A hierarchy level's place name (index into the levels, parent first).
    Level(usize),
    /// A member no property has: prints nothing.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Text(String),
    Output(Source),
}

/// A compiled template.
pub(crate) enum Template {
    Plain(Vec<Segment>),
    Liquid(liquid::Template),
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(segments) => f.debug_tuple("Plain").field(segments).finish(),
            Self::Liquid(_) => f.write_str("Liquid"),
        }
    }
}

/// The scopes a template can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Place,
    Contact,
    Lineage,
}

impl Template {
    /// Compiles `source`; `resolve` maps `(scope, member)` to where the value comes from.
    pub(crate) fn compile(
        source: &str,
        parser: &liquid::Parser,
        resolve: &dyn Fn(Scope, &str) -> Source,
    ) -> Result<Self, String> {
        if let Some(segments) = plain_segments(source, resolve) {
            return Ok(Self::Plain(segments));
        }
        match catch_unwind(AssertUnwindSafe(|| parser.parse(source))) {
            Ok(Ok(template)) => Ok(Self::Liquid(template)),
            Ok(Err(e)) => Err(format!("the template {source:?} does not parse: {e}")),
            Err(_) => Err(format!(
                "the template {source:?} makes the template engine fail"
            )),
        }
    }

    /// Whether an output of the template reads a `blank` source. Liquid templates are opaque:
    /// they never report one.
    pub(crate) fn reads_any(&self, blank: &dyn Fn(Source) -> bool) -> bool {
        match self {
            Self::Plain(segments) => segments.iter().any(|segment| match segment {
                Segment::Output(source) => blank(*source),
                Segment::Text(_) => false,
            }),
            Self::Liquid(_) => false,
        }
    }

    pub(crate) const fn needs_liquid(&self) -> bool {
        matches!(self, Self::Liquid(_))
    }

    /// Renders into `out`. `value` gives a source's text; `globals` is only used (and must be
    /// `Some`) for Liquid templates.
    pub(crate) fn render(
        &self,
        value: &dyn Fn(Source, &mut String),
        globals: Option<&liquid::Object>,
        out: &mut String,
    ) -> Result<(), String> {
        out.clear();
        match self {
            Self::Plain(segments) => {
                for segment in segments {
                    match segment {
                        Segment::Text(text) => out.push_str(text),
                        Segment::Output(source) => value(*source, out),
                    }
                }
                Ok(())
            }
            Self::Liquid(template) => {
                let empty = liquid::Object::new();
                let globals = globals.unwrap_or(&empty);
                match catch_unwind(AssertUnwindSafe(|| template.render(globals))) {
                    Ok(Ok(text)) => {
                        out.push_str(&text);
                        Ok(())
                    }
                    Ok(Err(e)) => Err(e.to_string().lines().next().unwrap_or_default().to_owned()),
                    Err(_) => Err("the template engine failed".to_owned()),
                }
            }
        }
    }
}

/// The segments of a template made only of text and `{{ scope.member }}` outputs; `None` for
/// anything else (tags, filters, whitespace control, other variables).
fn plain_segments(source: &str, resolve: &dyn Fn(Scope, &str) -> Source) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            if rest.contains("{%") || rest.contains("}}") {
                return None;
            }
            segments.push(Segment::Text(rest.to_owned()));
            break;
        };
        let text = &rest[..open];
        if text.contains("{%") || text.contains("}}") {
            return None;
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text.to_owned()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let inner = &after[..close];
        if inner.starts_with('-') || inner.ends_with('-') {
            return None;
        }
        let (scope, member) = inner.trim().split_once('.')?;
        let scope = match scope {
            "place" => Scope::Place,
            "contact" => Scope::Contact,
            "lineage" => Scope::Lineage,
            _ => return None,
        };
        let identifier = !member.is_empty()
            && member
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !identifier {
            return None;
        }
        segments.push(Segment::Output(resolve(scope, member)));
        rest = &after[close + 2..];
    }
    Some(segments)
}

/// A string as a Liquid value: `nil` when empty, as an absent property was in UMT.
pub(crate) fn scalar(text: &str) -> Value {
    if text.is_empty() {
        Value::Nil
    } else {
        Value::scalar(text.to_owned())
    }
}

/// Builds the `{place, contact, lineage}` globals for Liquid templates.
pub(crate) fn globals<'a>(
    place: impl Iterator<Item = (&'a str, &'a str)>,
    contact: impl Iterator<Item = (&'a str, &'a str)>,
    lineage: impl Iterator<Item = (&'a str, String)>,
) -> liquid::Object {
    let object = |pairs: &mut dyn Iterator<Item = (&'a str, &'a str)>| {
        let mut object = liquid::Object::new();
        for (name, value) in pairs {
            object.insert(KString::from_ref(name), scalar(value));
        }
        Value::Object(object)
    };
    let mut place = place;
    let mut contact = contact;
    let mut lineage_object = liquid::Object::new();
    for (name, value) in lineage {
        lineage_object.insert(KString::from_ref(name), scalar(&value));
    }
    let mut globals = liquid::Object::new();
    globals.insert("place".into(), object(&mut place));
    globals.insert("contact".into(), object(&mut contact));
    globals.insert("lineage".into(), Value::Object(lineage_object));
    globals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(scope: Scope, member: &str) -> Source {
        match (scope, member) {
            (Scope::Contact, "name") => Source::Field(0),
            (Scope::Place, "village") => Source::Field(1),
            (Scope::Lineage, "CHU") => Source::Level(0),
            _ => Source::Missing,
        }
    }

    fn parser() -> liquid::Parser {
        liquid::ParserBuilder::with_stdlib().build().unwrap()
    }

    fn render(template: &str) -> (bool, String) {
        let t = Template::compile(template, &parser(), &resolve).unwrap();
        let value = |s: Source, out: &mut String| {
            out.push_str(match s {
                Source::Field(0) => "Jane Doe",
                Source::Field(1) => "Kisoro",
                Source::Level(0) => "Kyamboo",
                _ => "",
            });
        };
        let globals = globals(
            [("village", "Kisoro")].into_iter(),
            [("name", "Jane Doe")].into_iter(),
            [("CHU", "Kyamboo".to_owned())].into_iter(),
        );
        let mut out = String::new();
        t.render(&value, Some(&globals), &mut out).unwrap();
        (t.needs_liquid(), out)
    }

    #[test]
    fn plain_templates_render_without_liquid() {
        assert_eq!(
            render("{{ contact.name }} Area"),
            (false, "Jane Doe Area".into())
        );
        assert_eq!(
            render("{{contact.name}} Area ({{ place.village }})"),
            (false, "Jane Doe Area (Kisoro)".into())
        );
        assert_eq!(
            render("{{ lineage.CHU }}/{{ contact.nope }}"),
            (false, "Kyamboo/".into())
        );
        assert_eq!(render("Fixed"), (false, "Fixed".into()));
    }

    #[test]
    fn other_templates_use_liquid_with_the_same_result() {
        assert_eq!(
            render("{{ contact.name | upcase }}"),
            (true, "JANE DOE".into())
        );
        assert_eq!(
            render("{% if place.village %}{{ place.village }}{% endif %} x"),
            (true, "Kisoro x".into())
        );
        assert_eq!(
            render("{{- contact.name -}} Area"),
            (true, "Jane DoeArea".into())
        );
    }

    #[test]
    fn broken_templates_are_config_errors() {
        assert!(Template::compile("{{ contact.name ", &parser(), &resolve).is_err());
    }
}
