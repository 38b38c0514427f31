//! Where a batch's rows may be: fixed when the batch is created, used for every validation of it.
//! The area is a [`PlaceScope`]: the whole instance, or subtrees (none: nowhere).

use portal_domain::PlaceScope;
use portal_staging::Scope;
use portal_store::staging::BatchInfo;

/// The area a batch is validated against: the one stored with it when it was created (its
/// anchors; none means the whole instance).
///
/// Commit must not trust this alone: before writing to CHT it checks again that the committing
/// operator's current `stage` area covers it, as the batch pages do ([`crate::Staging::may_see`]).
#[must_use]
pub fn area_of(info: &BatchInfo) -> PlaceScope {
    if info.anchors.is_empty() {
        PlaceScope::Everything
    } else {
        PlaceScope::Subtrees(info.anchors.clone())
    }
}

/// The staging engine's scope (its lookup form) for an area.
pub(crate) fn engine_scope(area: &PlaceScope) -> Scope {
    match area {
        PlaceScope::Everything => Scope::All,
        PlaceScope::Subtrees(roots) => Scope::Within(roots.iter().cloned().collect()),
    }
}

/// The anchors stored with a batch fixed to this area (none: the whole instance); `None` for an
/// empty area, which has no batches.
pub(crate) fn anchors(area: &PlaceScope) -> Option<Vec<String>> {
    match area {
        PlaceScope::Everything => Some(Vec::new()),
        PlaceScope::Subtrees(roots) if roots.is_empty() => None,
        PlaceScope::Subtrees(roots) => Some(roots.clone()),
    }
}
