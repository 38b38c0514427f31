//! UMT's three dismissible warnings (its §2 feature 14), in linear time:
//!
//! 1. a `unique` place property (`all`, or `parent`: among siblings) repeats a place on the
//!    instance or another staged row;
//! 2. a `unique` contact property repeats another staged row, or (UMT's defect 14, fixed) a
//!    contact on the instance whose value the caller provides in [`KnownValues`];
//! 3. two rows replace the same place.
//!
//! Duplicates on the instance depend only on the row, so they are computed when the row is
//! validated. Duplicates among staged rows live in [`StagedIndex`]: hash maps from key to rows,
//! updated per row, so editing one row re-examines only the rows sharing its old or new keys
//! (UMT compared every pair, quadratic in the places of the type: its defect 20).

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::hash::{Hash, Hasher};
use std::num::NonZeroU64;
use std::sync::Arc;

use crate::problem::{Problem, ProblemKind};
use crate::text::fold;

/// Which document a property is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A place property.
    Place,
    /// A property of the place's primary contact.
    Contact,
}

/// Place ids by folded value.
type ByValue = HashMap<String, Vec<Arc<str>>>;

/// Values of `unique` properties held by places and contacts on the instance, which the portal
/// reads from CHT documents (place names come from the [`crate::PlaceIndex`] and need not be
/// added here).
///
/// Insert values already formatted the way staged values are (phones in E.164), for instance
/// with [`crate::Validator::normalize_known`]; they are compared ignoring case, accents and
/// spacing.
#[derive(Debug, Clone, Default)]
pub struct KnownValues {
    values: HashMap<(String, Target, String), ByValue>,
}

impl KnownValues {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the place `place_id`, of type `place_type`, holds `value` for the property
    /// `property_name` (of the place itself, or of its primary contact).
    pub fn insert(
        &mut self,
        place_type: &str,
        target: Target,
        property_name: &str,
        place_id: &str,
        value: &str,
    ) {
        let key = fold(value);
        if key.is_empty() {
            return;
        }
        self.values
            .entry((place_type.to_owned(), target, property_name.to_owned()))
            .or_default()
            .entry(key)
            .or_default()
            .push(place_id.into());
    }

    /// Places holding a value equal to `key` (already folded).
    pub(crate) fn places(
        &self,
        place_type: &str,
        target: Target,
        property_name: &str,
        key: &str,
    ) -> &[Arc<str>] {
        // A borrowed tuple key cannot be built without owning strings; the map is small, so a
        // linear scan of its (few) properties is cheaper than allocating per lookup.
        self.values
            .iter()
            .find(|((t, g, p), _)| t == place_type && *g == target && p == property_name)
            .and_then(|(_, by_value)| by_value.get(key))
            .map_or(&[], Vec::as_slice)
    }
}

/// The keys one staged row contributes: per `unique` property, a hash of (the parent when
/// unique among siblings, the normalised value); and the place it replaces.
///
/// Hashes are 64-bit SipHash with fixed keys: two different values collide with probability
/// about 2⁻⁶⁴, which for a dismissible warning is an acceptable price for not keeping a second
/// copy of every value (a 100,000-row batch would otherwise hold 20 MB of keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StagedKeys {
    pub(crate) unique: Box<[Option<NonZeroU64>]>,
    pub(crate) replacing: Option<Arc<str>>,
}

/// The hash of a `unique` key (never zero, so an absent key costs no extra space).
pub(crate) fn key_hash(parent: Option<&str>, key: &str) -> NonZeroU64 {
    let mut hasher = DefaultHasher::new();
    parent.hash(&mut hasher);
    key.hash(&mut hasher);
    NonZeroU64::new(hasher.finish()).unwrap_or(NonZeroU64::MIN)
}

/// What a `unique` property is called, for messages.
#[derive(Debug, Clone)]
pub(crate) struct UniqueLabel {
    pub(crate) column: String,
    pub(crate) parent: bool,
}

/// The rows (or places) holding one key: almost always one, so without a heap allocation.
#[derive(Debug, Clone)]
pub(crate) enum Slot<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Copy + PartialEq> Slot<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Self::One(item) => std::slice::from_ref(item),
            Self::Many(items) => items,
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        match self {
            Self::One(first) => *self = Self::Many(vec![*first, item]),
            Self::Many(items) => items.push(item),
        }
    }

    /// Removes `item`; `true` when none is left.
    fn remove(&mut self, item: T) -> bool {
        let left = match self {
            Self::One(only) => return *only == item,
            Self::Many(items) => {
                items.retain(|&i| i != item);
                std::mem::take(items)
            }
        };
        match left.as_slice() {
            [] => true,
            [last] => {
                *self = Self::One(*last);
                false
            }
            _ => {
                *self = Self::Many(left);
                false
            }
        }
    }
}

pub(crate) fn add<K: Eq + Hash, T: Copy + PartialEq>(
    map: &mut HashMap<K, Slot<T>>,
    key: K,
    row: T,
) {
    match map.entry(key) {
        Entry::Occupied(mut slot) => slot.get_mut().push(row),
        Entry::Vacant(slot) => {
            slot.insert(Slot::One(row));
        }
    }
}

fn take<K: Eq + Hash>(map: &mut HashMap<K, Slot<usize>>, key: &K, row: usize) {
    if map.get_mut(key).is_some_and(|slot| slot.remove(row)) {
        map.remove(key);
    }
}

/// Staged rows by key, for duplicates among staged rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct StagedIndex {
    unique: Vec<HashMap<NonZeroU64, Slot<usize>>>,
    replacing: HashMap<Arc<str>, Slot<usize>>,
}

impl StagedIndex {
    pub(crate) fn new(unique_properties: usize) -> Self {
        Self {
            unique: vec![HashMap::new(); unique_properties],
            replacing: HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, row: usize, keys: &StagedKeys) {
        for (map, key) in self.unique.iter_mut().zip(&keys.unique) {
            if let Some(key) = key {
                add(map, *key, row);
            }
        }
        if let Some(target) = &keys.replacing {
            add(&mut self.replacing, Arc::clone(target), row);
        }
    }

    pub(crate) fn remove(&mut self, row: usize, keys: &StagedKeys) {
        for (map, key) in self.unique.iter_mut().zip(&keys.unique) {
            if let Some(key) = key {
                take(map, key, row);
            }
        }
        if let Some(target) = &keys.replacing {
            take(&mut self.replacing, target, row);
        }
    }

    /// Every row sharing a key with `keys` (possibly with repeats), appended to `out`.
    pub(crate) fn sharing(&self, keys: &StagedKeys, out: &mut Vec<usize>) {
        for (map, key) in self.unique.iter().zip(&keys.unique) {
            if let Some(slot) = key.as_ref().and_then(|k| map.get(k)) {
                out.extend_from_slice(slot.as_slice());
            }
        }
        if let Some(slot) = keys.replacing.as_ref().and_then(|t| self.replacing.get(t)) {
            out.extend_from_slice(slot.as_slice());
        }
    }

    /// Whether `keys` shares any key with another row (the common case is no).
    pub(crate) fn has_duplicates(&self, keys: &StagedKeys) -> bool {
        let unique = self.unique.iter().zip(&keys.unique).any(|(map, key)| {
            key.as_ref()
                .and_then(|k| map.get(k))
                .is_some_and(|slot| slot.as_slice().len() > 1)
        });
        unique
            || keys
                .replacing
                .as_ref()
                .and_then(|t| self.replacing.get(t))
                .is_some_and(|slot| slot.as_slice().len() > 1)
    }

    /// The staged-duplicate warnings of `row`; `line` gives another row's line for messages.
    pub(crate) fn warnings(
        &self,
        row: usize,
        keys: &StagedKeys,
        labels: &[UniqueLabel],
        replaced_name: Option<&str>,
        line: &dyn Fn(usize) -> usize,
        values: &dyn Fn(usize) -> String,
    ) -> Vec<Problem> {
        let mut out = Vec::new();
        for (i, ((map, key), label)) in self.unique.iter().zip(&keys.unique).zip(labels).enumerate()
        {
            let Some(rows) = key.as_ref().and_then(|k| map.get(k)).map(Slot::as_slice) else {
                continue;
            };
            if rows.len() < 2 {
                continue;
            }
            let parent = if label.parent { " and same parent" } else { "" };
            out.push(Problem::new(
                ProblemKind::DuplicateStaged,
                Some(&label.column),
                &values(i),
                format!(
                    "Multiple staged entries have the same \"{}\"{parent}",
                    label.column
                ),
                format!(
                    "{} the same value: correct one of them, or press \"{ACKNOWLEDGE_BUTTON}\" \
                     if this is intended.",
                    others(row, rows, line)
                ),
            ));
        }
        if let Some(rows) = keys.replacing.as_ref().and_then(|t| self.replacing.get(t)) {
            let rows = rows.as_slice();
            if rows.len() > 1 {
                let name = replaced_name.unwrap_or_default();
                out.push(Problem::new(
                    ProblemKind::SameReplacement,
                    None,
                    name,
                    format!("Multiple entries are replacing the same \"{name}\""),
                    format!(
                        "{} replacing it too: keep only one of them.",
                        others(row, rows, line)
                    ),
                ));
            }
        }
        out
    }
}

/// "Row 17 has" / "Rows 17 and 40 have" / "Rows 17, 40, 52 and 3 more have".
fn others(row: usize, rows: &[usize], line: &dyn Fn(usize) -> usize) -> String {
    let mut lines: Vec<usize> = rows
        .iter()
        .filter(|&&r| r != row)
        .map(|&r| line(r))
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let shown: Vec<String> = lines.iter().take(3).map(ToString::to_string).collect();
    match lines.len() {
        0 => "Another row has".to_owned(),
        1 => format!("Row {} has", shown[0]),
        2 => format!("Rows {} and {} have", shown[0], shown[1]),
        3 => format!("Rows {}, {} and {} have", shown[0], shown[1], shown[2]),
        n => format!("Rows {} and {} more have", shown.join(", "), n - 3),
    }
}

/// The label of the batch page's button that accepts a row's warnings: the warnings' fixes name
/// it, so the page shows it from here.
pub const ACKNOWLEDGE_BUTTON: &str = "Acknowledge";

/// The warning for a value already held on the instance.
pub(crate) fn on_instance(
    label: &UniqueLabel,
    target: Target,
    value: &str,
    ids: &[Arc<str>],
    index: &crate::PlaceIndex,
) -> Problem {
    let parent = if label.parent { " and same parent" } else { "" };
    let shown: Vec<&str> = ids.iter().take(5).map(|id| &**id).collect();
    let message = match target {
        Target::Place => format!(
            "A place with the same \"{}\"{parent} exists on the instance. ID \"{}\"",
            label.column,
            shown.join("\", \"")
        ),
        // A person is found by the place they are the primary contact of: name it too.
        Target::Contact => {
            let places: Vec<String> = shown
                .iter()
                .map(|id| match index.get(id) {
                    Some(place) => format!("\"{}\" (ID \"{id}\")", place.name()),
                    None => format!("ID \"{id}\""),
                })
                .collect();
            format!(
                "A contact with the same \"{}\" exists on the instance: the primary contact of {}",
                label.column,
                places.join(", ")
            )
        }
    };
    Problem::new(
        ProblemKind::DuplicateOnInstance,
        Some(&label.column),
        value,
        message,
        format!(
            "Check that this is not already on the instance; press \"{ACKNOWLEDGE_BUTTON}\" if \
             it is intended."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &str, replacing: Option<&str>) -> StagedKeys {
        StagedKeys {
            unique: Box::new([Some(key_hash(None, value))]),
            replacing: replacing.map(Into::into),
        }
    }

    #[test]
    fn staged_duplicates_are_found_and_forgotten() {
        let labels = [UniqueLabel {
            column: "CHP Phone".into(),
            parent: false,
        }];
        let mut index = StagedIndex::new(1);
        let rows = [
            keys("+254712345678", None),
            keys("+254712345678", Some("p1")),
            keys("+254700000000", Some("p1")),
        ];
        for (i, k) in rows.iter().enumerate() {
            index.insert(i, k);
        }
        let line = |r: usize| r + 2;
        let value = |_| "+254712345678".to_owned();
        let w0 = index.warnings(0, &rows[0], &labels, None, &line, &value);
        assert_eq!(w0.len(), 1);
        assert_eq!(w0[0].kind, ProblemKind::DuplicateStaged);
        assert_eq!(
            w0[0].message,
            "Multiple staged entries have the same \"CHP Phone\""
        );
        assert!(
            w0[0].fix.starts_with("Row 3 has the same value"),
            "{}",
            w0[0].fix
        );
        let w1 = index.warnings(1, &rows[1], &labels, Some("Jane Area"), &line, &value);
        assert_eq!(w1.len(), 2);
        assert_eq!(
            w1[1].message,
            "Multiple entries are replacing the same \"Jane Area\""
        );

        index.remove(1, &rows[1]);
        assert!(
            index
                .warnings(0, &rows[0], &labels, None, &line, &value)
                .is_empty()
        );
        assert!(
            index
                .warnings(2, &rows[2], &labels, None, &line, &value)
                .is_empty()
        );
        let mut sharing = Vec::new();
        index.sharing(&rows[0], &mut sharing);
        assert_eq!(sharing, vec![0]);
    }

    #[test]
    fn known_values_compare_folded() {
        let mut known = KnownValues::new();
        known.insert("chp", Target::Contact, "phone", "p9", "+254712345678");
        known.insert("chp", Target::Place, "code", "p8", " ABC ");
        assert_eq!(
            known
                .places("chp", Target::Contact, "phone", "+254712345678")
                .len(),
            1
        );
        assert_eq!(known.places("chp", Target::Place, "code", "abc").len(), 1);
        assert!(known.places("chu", Target::Place, "code", "abc").is_empty());
        assert!(
            known
                .places("chp", Target::Place, "phone", "+254712345678")
                .is_empty()
        );
    }
}
