use std::collections::BTreeMap;

use maud::{Markup, html};
use portal_domain::InvalidValue;

use crate::csrf::FORM_FIELD;

/// Validation messages by form field name.
#[derive(Debug, Default)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    /// Records the error of a failed parse under `field`, returning the value when it parsed.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, format!("{} {}", error.field, error.reason));
                None
            }
        }
    }

    #[must_use]
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn hidden_csrf(token: &str) -> Markup {
    html! { input type="hidden" name=(FORM_FIELD) value=(token); }
}

/// A labelled input with its hint and error, wired for screen readers.
pub struct TextField<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
    pub hint: Option<&'a str>,
    pub required: bool,
    pub autocomplete: &'a str,
}

pub fn text_field(field: &TextField<'_>, errors: &FieldErrors) -> Markup {
    let error = errors.get(field.name);
    let hint_id = format!("{}-hint", field.name);
    let error_id = format!("{}-error", field.name);
    let described_by = [
        field.hint.map(|_| hint_id.as_str()),
        error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(field.name) { (field.label) }
            input type=(field.kind) id=(field.name) name=(field.name) value=(field.value)
                required[field.required] autocomplete=(field.autocomplete)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[(!described_by.is_empty()).then_some(described_by.as_str())];
            @if let Some(hint) = field.hint { div.hint id=(hint_id) { (hint) } }
            @if let Some(error) = error { div.error id=(error_id) { (error) } }
        }
    }
}
