//! Parents staged in other batches: a worker file may name community units that a unit file,
//! staged but not yet committed, will create.
//!
//! A batch sees the places staged by the other batches of its instance whose type is one of its
//! hierarchy levels' types and whose area lies inside its own area (so whoever may see the batch
//! may see them too, and a row's status never depends on who looks). Those places join the
//! cached places in a [`Snapshot`] of the index, keyed by the cache stamp and the versions of
//! the contributing batches, so any change to one of them gives a new snapshot.
//!
//! A row resolved to a staged place stores the [`Dependency`] (commit creates parents first).
//! When that place goes away (its row removed, or now with errors), the row, re-validated,
//! fails to find its parent and says why; the dependency is kept so it keeps saying so.

use portal_domain::{PlaceScope, RowStatus};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use portal_deploy_config::ContactType;
use portal_staging::{PlaceIndex, PlaceRecord, ProblemKind, StagedRow};
use portal_store::staging::{BatchInfo, Dependency, StagedPlace};
use uuid::Uuid;

use crate::area::area_of;
use crate::inherited::Sources;

/// The place index a batch validates against: the cached places plus the places staged by the
/// batches it may use as parents.
pub(crate) struct Snapshot {
    pub key: String,
    pub index: Arc<PlaceIndex>,
    pub staged: Arc<StagedSet>,
    /// The places new places copy values from (the deployment profile's sources).
    pub sources: Sources,
}

/// What the contributing batches will create, to explain a parent that went away.
#[derive(Debug, Default)]
pub(crate) struct StagedSet {
    /// File name per contributing batch.
    batches: HashMap<Uuid, String>,
    /// Line and status per staged row that names a place.
    rows: HashMap<(Uuid, i32), (i32, RowStatus)>,
}

impl StagedSet {
    /// The line of a staged row in its own upload.
    pub fn line(&self, batch: Uuid, idx: i32) -> i32 {
        self.rows.get(&(batch, idx)).map_or(0, |(line, _)| *line)
    }

    /// Why the place that row `dependency` was to create is not there.
    fn explain(&self, dependency: Dependency) -> String {
        let mut out = format!("It was to be created by row {}", dependency.line);
        match self.batches.get(&dependency.batch) {
            Some(file) => {
                let _ = write!(out, " of the staged batch \"{file}\"");
                match self.rows.get(&(dependency.batch, dependency.idx)) {
                    Some((_, RowStatus::Error)) => {
                        out.push_str(", which now has errors: fix that row first.");
                    }
                    Some(_) => out.push_str(", which now creates a place of another name."),
                    None => out.push_str(", which was removed: stage that place again."),
                }
            }
            None => out.push_str(
                " of a staged batch that was deleted, or is outside this batch's area: stage \
                 that place again.",
            ),
        }
        out
    }
}

/// Whether batches of `kind` may name places of type `place_type` as a parent or ancestor.
pub(crate) fn uses_as_parent(kind: &ContactType, place_type: &str) -> bool {
    kind.hierarchy.iter().any(|h| h.contact_type == place_type)
}

/// Whether `inner` lies inside `outer`: every anchor of `inner` is, or is below, an anchor of
/// `outer` (by the cached lineage).
pub(crate) fn area_within(inner: &PlaceScope, outer: &PlaceScope, index: &PlaceIndex) -> bool {
    match (inner, outer) {
        (_, PlaceScope::Everything) => true,
        (PlaceScope::Everything, PlaceScope::Subtrees(_)) => false,
        (PlaceScope::Subtrees(anchors), PlaceScope::Subtrees(roots)) => {
            anchors.iter().all(|anchor| {
                roots.contains(anchor)
                    || index
                        .lineage(anchor)
                        .iter()
                        .any(|ancestor| roots.iter().any(|r| r == ancestor.id()))
            })
        }
    }
}

/// The batches whose staged places a batch of `kind` in `area` resolves against (never itself).
pub(crate) fn contributing<'b>(
    batches: &'b [BatchInfo],
    own: Option<Uuid>,
    kind: &ContactType,
    area: &PlaceScope,
    index: &PlaceIndex,
) -> Vec<&'b BatchInfo> {
    let mut found: Vec<&BatchInfo> = batches
        .iter()
        .filter(|b| Some(b.id) != own)
        .filter(|b| uses_as_parent(kind, &b.contact_type))
        .filter(|b| area_within(&area_of(b), area, index))
        .collect();
    found.sort_by_key(|b| b.id);
    found
}

/// The cache key of a snapshot over `base_stamp` with these contributing batches.
pub(crate) fn snapshot_key(base_stamp: &str, batches: &[&BatchInfo]) -> String {
    let mut key = base_stamp.to_owned();
    for b in batches {
        let _ = write!(key, "|{}:{}", b.id, b.version);
    }
    key
}

/// Builds a snapshot: the base index plus the places the contributing batches' rows without
/// errors will create.
pub(crate) fn build(
    key: String,
    base: &Arc<PlaceIndex>,
    batches: &[&BatchInfo],
    places: Vec<StagedPlace>,
    sources: impl FnOnce(&[(StagedPlace, String)]) -> Sources,
) -> Snapshot {
    let types: HashMap<Uuid, (&str, &str)> = batches
        .iter()
        .map(|b| (b.id, (b.contact_type.as_str(), b.file_name.as_str())))
        .collect();
    let mut staged = StagedSet {
        batches: types
            .iter()
            .map(|(id, (_, file))| (*id, (*file).to_owned()))
            .collect(),
        rows: HashMap::with_capacity(places.len()),
    };
    let mut records = Vec::with_capacity(places.len());
    let mut typed = Vec::with_capacity(places.len());
    for place in places {
        staged
            .rows
            .insert((place.batch, place.idx), (place.line, place.status));
        let Some((contact_type, _)) = types.get(&place.batch) else {
            continue;
        };
        if place.status != RowStatus::Error {
            records.push(PlaceRecord {
                id: Dependency::place_id(place.batch, place.idx),
                contact_type: (*contact_type).to_owned(),
                name: place.name.clone(),
                parent_id: place.parent_id.clone(),
            });
        }
        typed.push((place, (*contact_type).to_owned()));
    }
    // Without staged places the cached index itself serves (no copy of 100,000 places).
    let index = if records.is_empty() {
        Arc::clone(base)
    } else {
        let mut index = PlaceIndex::clone(base);
        index.extend_staged(records);
        Arc::new(index)
    };
    let sources = sources(&typed);
    Snapshot {
        key,
        index,
        staged: Arc::new(staged),
        sources,
    }
}

/// The row's dependency after validation: the staged place its parent resolved to, or, when
/// its parent is not found and it depended on a staged place before, that one (with the reason
/// added to the error).
pub(crate) fn settle(
    row: &mut StagedRow,
    previous: Option<Dependency>,
    staged: &StagedSet,
    parent_column: Option<&str>,
) -> Option<Dependency> {
    if let Some((batch, idx)) = row
        .parent()
        .filter(|p| p.is_staged())
        .and_then(|p| Dependency::parse_place_id(p.id()))
    {
        return Some(Dependency {
            batch,
            idx,
            line: staged.line(batch, idx),
        });
    }
    let previous = previous?;
    let column = parent_column?;
    row.amend_problem(ProblemKind::NotFound, column, &staged.explain(previous))
        .then_some(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, kind: &str, name: &str, parent: Option<&str>) -> PlaceRecord {
        PlaceRecord {
            id: id.into(),
            contact_type: kind.into(),
            name: name.into(),
            parent_id: parent.map(Into::into),
        }
    }

    #[test]
    fn area_within_follows_the_cached_lineage() {
        let index = PlaceIndex::new([
            record("county", "a_county", "Kitui", None),
            record("sub", "b_sub_county", "Mwingi", Some("county")),
            record("other", "b_sub_county", "Kitui West", Some("county")),
        ]);
        let sub = PlaceScope::Subtrees(vec!["sub".into()]);
        let county = PlaceScope::Subtrees(vec!["county".into()]);
        let other = PlaceScope::Subtrees(vec!["other".into()]);
        assert!(area_within(&sub, &county, &index));
        assert!(area_within(&sub, &sub, &index));
        assert!(area_within(&sub, &PlaceScope::Everything, &index));
        assert!(!area_within(&county, &sub, &index));
        assert!(!area_within(&other, &sub, &index));
        assert!(!area_within(&PlaceScope::Everything, &county, &index));
    }

    #[test]
    fn staged_place_ids_round_trip() {
        let batch = Uuid::now_v7();
        let id = Dependency::place_id(batch, 12);
        assert_eq!(Dependency::parse_place_id(&id), Some((batch, 12)));
        assert_eq!(Dependency::parse_place_id("chu-000035"), None);
        assert_eq!(Dependency::parse_place_id("staged:not-a-uuid:1"), None);
    }

    #[test]
    fn explanations_name_the_row_the_batch_and_what_to_do() {
        let batch = Uuid::now_v7();
        let mut staged = StagedSet::default();
        staged.batches.insert(batch, "units.csv".into());
        staged.rows.insert((batch, 3), (5, RowStatus::Error));
        let dep = |idx| Dependency {
            batch,
            idx,
            line: 5,
        };
        assert_eq!(
            staged.explain(dep(3)),
            "It was to be created by row 5 of the staged batch \"units.csv\", which now has \
             errors: fix that row first."
        );
        assert_eq!(
            staged.explain(dep(4)),
            "It was to be created by row 5 of the staged batch \"units.csv\", which was \
             removed: stage that place again."
        );
        let gone = Dependency {
            batch: Uuid::now_v7(),
            idx: 1,
            line: 2,
        };
        assert!(
            staged
                .explain(gone)
                .contains("deleted, or is outside this batch's area")
        );
    }
}
