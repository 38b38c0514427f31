//! What the deployment profile adds to a new place: its final name (with the type's suffix) and
//! the properties it copies from its parent or a sibling, each with where it came from, so the
//! preview shows and commit writes the same values.
//!
//! The places read are abstract ([`PlaceSource`]): a cached place of the instance, or a place
//! staged in another batch and not yet created. Nothing here reads a database.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use portal_deploy_config::{DeploymentProfile, InheritedProperty, SourcePlace};

/// A place a new place may copy values from.
pub trait PlaceSource {
    /// Its CHT place type (so a staged place's name gets its type's suffix when copied).
    fn place_type(&self) -> &str;
    /// How messages name it: its name, and for a staged place which batch and row.
    fn label(&self) -> Cow<'_, str>;
    /// The value of `property` as CHT has it (or will have it); `None` when absent.
    fn property(&self, property: &str) -> Option<Cow<'_, str>>;
}

/// A [`PlaceSource`] from plain values, for callers whose places are rows or JSON documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceValues {
    /// The CHT place type.
    pub place_type: String,
    /// How messages name the place.
    pub label: String,
    /// Its properties (`name` among them).
    pub values: BTreeMap<String, String>,
}

impl PlaceSource for PlaceValues {
    fn place_type(&self) -> &str {
        &self.place_type
    }

    fn label(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.label)
    }

    fn property(&self, property: &str) -> Option<Cow<'_, str>> {
        self.values.get(property).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// What the profile makes of one new place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inheritance {
    /// The name the place is created with: the row's name with its type's suffix.
    pub name: String,
    /// Properties copied, in the profile's order.
    pub values: Vec<InheritedValue>,
    /// Properties no source had a value for: warnings for the row.
    pub missing: Vec<MissingValue>,
}

impl Inheritance {
    /// The value copied into `property`, if any.
    #[must_use]
    pub fn value(&self, property: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|v| v.property == property)
            .map(|v| v.value.as_str())
    }
}

/// A property copied onto the new place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InheritedValue {
    /// The property written on the new place (`chu_code`).
    pub property: String,
    /// The value, trimmed (`100035`).
    pub value: String,
    /// Where it was read.
    pub origin: Origin,
}

/// Where an inherited value was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The parent, or a sibling.
    pub place: SourcePlace,
    /// That place's [`PlaceSource::label`].
    pub label: String,
    /// The property read there (`code`).
    pub property: String,
}

/// `code of the parent "Chimbima Community Health Unit"`, for the preview.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match self.place {
            SourcePlace::Parent => "the parent",
            SourcePlace::Sibling => "the sibling",
        };
        write!(f, "{} of {place} \"{}\"", self.property, self.label)
    }
}

/// A property the profile copies, which none of its sources had: a warning, since the place can
/// still be created, without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValue {
    /// The property left out (`chu_code`).
    pub property: String,
    /// What is missing where.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl From<&MissingValue> for crate::Problem {
    fn from(missing: &MissingValue) -> Self {
        Self::new(
            crate::ProblemKind::InheritedMissing,
            None,
            &missing.property,
            missing.message.clone(),
            missing.fix.clone(),
        )
    }
}

/// `chu_code: <message>. Fix: <fix>`.
impl fmt::Display for MissingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}. Fix: {}", self.property, self.message, self.fix)
    }
}

/// Applies `profile` to a new place of `place_type` named `name` (formatted, as the row gives
/// it) whose parent is `parent` and whose siblings (other places of its type under the same
/// parent, in a stable order) are `siblings`.
///
/// Each inherited property takes the first non-blank value among its sources in order; of
/// siblings, the first that has it. Siblings are read only as far as needed, so a lazy iterator
/// costs nothing while parents have their values. A `name` read from a place gets that place's
/// own suffix (a staged unit's name is stored without it). Without a parent (the row's
/// hierarchy did not resolve, which is already an error) nothing is inherited or reported.
pub fn inherit<'s>(
    profile: &DeploymentProfile,
    place_type: &str,
    name: &str,
    parent: Option<&'s dyn PlaceSource>,
    siblings: impl IntoIterator<Item = &'s dyn PlaceSource>,
) -> Inheritance {
    let mut inheritance = Inheritance {
        name: profile.place_name(place_type, name).into_owned(),
        values: Vec::new(),
        missing: Vec::new(),
    };
    let (Some(entry), Some(parent)) = (profile.place_type(place_type), parent) else {
        return inheritance;
    };
    let mut siblings = Siblings {
        read: Vec::new(),
        rest: siblings.into_iter(),
    };
    for inherited in &entry.inherit {
        match find(profile, inherited, parent, &mut siblings) {
            Some(value) => inheritance.values.push(value),
            None => inheritance
                .missing
                .push(missing(inherited, parent, siblings.count())),
        }
    }
    inheritance
}

/// Siblings read so far, and the rest, read on demand.
struct Siblings<'s, I> {
    read: Vec<&'s dyn PlaceSource>,
    rest: I,
}

impl<'s, I: Iterator<Item = &'s dyn PlaceSource>> Siblings<'s, I> {
    /// The first sibling's value for `property` (by `read`), reading further siblings if needed.
    fn first<T>(&mut self, mut read: impl FnMut(&'s dyn PlaceSource) -> Option<T>) -> Option<T> {
        if let Some(found) = self.read.iter().find_map(|s| read(*s)) {
            return Some(found);
        }
        for sibling in self.rest.by_ref() {
            self.read.push(sibling);
            if let Some(found) = read(sibling) {
                return Some(found);
            }
        }
        None
    }

    /// How many siblings there are (reads them all; only for messages).
    fn count(&mut self) -> usize {
        self.read.extend(self.rest.by_ref());
        self.read.len()
    }
}

fn find<'s, I: Iterator<Item = &'s dyn PlaceSource>>(
    profile: &DeploymentProfile,
    inherited: &InheritedProperty,
    parent: &'s dyn PlaceSource,
    siblings: &mut Siblings<'s, I>,
) -> Option<InheritedValue> {
    inherited.from.iter().find_map(|source| {
        let read = |place: &'s dyn PlaceSource| {
            value_of(profile, place, &source.property).map(|value| InheritedValue {
                property: inherited.property.clone(),
                value,
                origin: Origin {
                    place: source.place,
                    label: place.label().into_owned(),
                    property: source.property.clone(),
                },
            })
        };
        match source.place {
            SourcePlace::Parent => read(parent),
            SourcePlace::Sibling => siblings.first(read),
        }
    })
}

/// `place`'s non-blank value of `property`, trimmed; a name with its type's suffix.
fn value_of(
    profile: &DeploymentProfile,
    place: &dyn PlaceSource,
    property: &str,
) -> Option<String> {
    let value = place.property(property)?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(if property == "name" {
        profile.place_name(place.place_type(), value).into_owned()
    } else {
        value.to_owned()
    })
}

/// The warning for `inherited`, naming each place tried and what to fill in where.
fn missing(
    inherited: &InheritedProperty,
    parent: &dyn PlaceSource,
    sibling_count: usize,
) -> MissingValue {
    let parent_label = parent.label();
    let tried: Vec<String> = inherited
        .from
        .iter()
        .map(|source| match source.place {
            SourcePlace::Parent => {
                format!("the parent \"{parent_label}\" has no {}", source.property)
            }
            SourcePlace::Sibling if sibling_count == 0 => format!(
                "no other place of this type under \"{parent_label}\" exists to copy {} from",
                source.property
            ),
            SourcePlace::Sibling => format!(
                "none of the {sibling_count} other places of this type under \
                 \"{parent_label}\" has {}",
                source.property
            ),
        })
        .collect();
    let message = format!(
        "{} cannot be filled in: {}",
        inherited.property,
        tried.join(", and ")
    );
    let parent_source = inherited
        .from
        .iter()
        .find(|s| s.place == SourcePlace::Parent);
    let where_to = parent_source.map_or_else(
        || {
            let property = inherited.from.first().map_or("it", |s| s.property.as_str());
            format!("{property} on another place of this type under \"{parent_label}\"")
        },
        |source| format!("{} on \"{parent_label}\"", source.property),
    );
    let fix = format!(
        "Fill in {where_to} in CHT and refresh places (or on its staged row, if it is not \
         created yet); if you go on, the place is created without {}",
        inherited.property
    );
    MissingValue {
        property: inherited.property.clone(),
        message,
        fix,
    }
}
