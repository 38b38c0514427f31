//! Checks `generated` templates: they must parse as Liquid and use only the variables UMT provides.

use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use liquid::model::{DisplayCow, KStringCow, State, Value};
use liquid::{ObjectView, ValueView};

/// The variables a template may use, as UMT renders generated properties.
pub const TEMPLATE_VARIABLES: [&str; 3] = ["place", "contact", "lineage"];

/// Checks a `generated` template. `Err` is a reason for a problem.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err(
            "the template is empty: write the value to generate, e.g. \"{{ contact.name }} Area\""
                .to_owned(),
        );
    }
    // Liquid is third-party code run on user input: a panic in it must not take the portal down.
    match catch_unwind(AssertUnwindSafe(|| check_unguarded(template))) {
        Ok(result) => result,
        Err(_) => Err(
            "the template could not be checked (the template engine failed on it): simplify it"
                .to_owned(),
        ),
    }
}

fn check_unguarded(template: &str) -> Result<(), String> {
    let parser = liquid::ParserBuilder::with_stdlib()
        .build()
        .map_err(|e| format!("the template engine could not start: {e}"))?;
    let parsed = parser.parse(template).map_err(|e| {
        format!(
            "the Liquid template does not parse: {}; write values as {{{{ contact.name }}}} and \
             filters as {{{{ contact.name | upcase }}}}",
            one_line(&e.to_string())
        )
    })?;
    // Rendering finds the variables used. Tags ({% … %}) could loop for a long time on a hostile
    // template, so only plain output templates, which are what configs use, are rendered.
    if template.contains("{%") {
        return Ok(());
    }
    let globals = Globals::default();
    // Errors other than unknown variables depend on real values (a filter given a number, say),
    // so they are not the config's fault and are ignored here.
    let _ = parsed.render(&globals);
    let unknown = globals.unknown.into_inner();
    if unknown.is_empty() {
        Ok(())
    } else {
        let names: Vec<String> = unknown.iter().map(|n| format!("{n:?}")).collect();
        Err(format!(
            "the template uses {}, which {} not available: templates can use only place, \
             contact and lineage (e.g. {{{{ contact.name }}}} or {{{{ place.village }}}})",
            names.join(", "),
            if unknown.len() == 1 { "is" } else { "are" }
        ))
    }
}

/// Liquid's messages span several lines; problems are one sentence.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "liquid:" && !l.starts_with("with:"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("liquid: ")
        .to_owned()
}

/// A value that has every member, all of them empty: it stands for `place`, `contact` and
/// `lineage` without knowing their attributes.
#[derive(Debug)]
struct Anything;

static ANYTHING: Anything = Anything;

impl ValueView for Anything {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"")
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"\"\"")
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        !matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_static("")
    }
    fn to_value(&self) -> Value {
        Value::Nil
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Anything {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        0
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(std::iter::empty())
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(std::iter::empty())
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(std::iter::empty())
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, _index: &str) -> Option<&'s dyn ValueView> {
        Some(&ANYTHING)
    }
}

/// The template's globals: the three known variables, and a record of any other name asked for
/// (answered with [`Anything`] so rendering goes on and finds them all).
#[derive(Debug, Default)]
struct Globals {
    unknown: RefCell<Vec<String>>,
}

impl ValueView for Globals {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"")
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&"{}")
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_static("")
    }
    fn to_value(&self) -> Value {
        Value::Nil
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Globals {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        3
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(
            TEMPLATE_VARIABLES
                .iter()
                .map(|k| KStringCow::from_static(k)),
        )
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(
            TEMPLATE_VARIABLES
                .iter()
                .map(|_| &ANYTHING as &dyn ValueView),
        )
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            TEMPLATE_VARIABLES
                .iter()
                .map(|k| (KStringCow::from_static(k), &ANYTHING as &dyn ValueView)),
        )
    }
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        if !TEMPLATE_VARIABLES.contains(&index) {
            let mut unknown = self.unknown.borrow_mut();
            if !unknown.iter().any(|n| n == index) {
                unknown.push(index.to_owned());
            }
        }
        Some(&ANYTHING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_configs_templates_pass() {
        for t in [
            "{{ contact.name }} Area",
            "{{ contact.name }} Area ({{ place.village }})",
            "{{ contact.national_id }}",
            "{{ contact.last_name }} {{ contact.first_name }} ({{ lineage.followup_area }})",
            "{{ contact.name | upcase }}",
            "{{ contact.age | plus: 1 }}",
            "Fixed text",
            "{% if contact.name %}{{ contact.name }}{% endif %}",
        ] {
            assert_eq!(check_template(t), Ok(()), "{t}");
        }
    }

    #[test]
    fn syntax_errors_are_reported_on_one_line() {
        let reason = check_template("{{ contact.name ").unwrap_err();
        assert!(
            reason.starts_with("the Liquid template does not parse: "),
            "{reason}"
        );
        assert!(!reason.contains('\n'), "{reason}");
        let reason = check_template("{{ contact.name | no_such_filter }}").unwrap_err();
        assert!(reason.contains("does not parse"), "{reason}");
        assert!(reason.contains("no_such_filter"), "{reason}");
    }

    #[test]
    fn unknown_variables_are_named() {
        let reason = check_template("{{ name }} Area ({{ parent.name }}) {{ name }}").unwrap_err();
        assert!(
            reason.starts_with("the template uses \"name\", \"parent\", which are not available"),
            "{reason}"
        );
        let reason = check_template("{{ contacts.name }}").unwrap_err();
        assert!(reason.contains("\"contacts\", which is not"), "{reason}");
    }

    #[test]
    fn empty_templates_are_refused() {
        assert!(check_template("  ").unwrap_err().contains("empty"));
    }
}
