//! Where a batch's rows may be: fixed when the batch is created, used for every validation of it.

use portal_staging::Scope;
use portal_store::staging::BatchInfo;

/// A part of an instance where rows may be staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    /// The whole instance.
    Instance,
    /// These places and everything below them (none: nowhere).
    Subtrees(Vec<String>),
}

impl Area {
    /// The area a batch is validated against: the one stored with it when it was created (its
    /// anchors; none means the whole instance).
    ///
    /// Commit (not built yet) must not trust this alone: before writing to CHT it checks
    /// again that the committing operator's current `stage` area covers it, as the batch pages
    /// do through their visibility check.
    #[must_use]
    pub fn of_batch(info: &BatchInfo) -> Self {
        if info.anchors.is_empty() {
            Self::Instance
        } else {
            Self::Subtrees(info.anchors.clone())
        }
    }

    /// The staging engine's scope for this area.
    #[must_use]
    pub fn scope(&self) -> Scope {
        match self {
            Self::Instance => Scope::All,
            Self::Subtrees(roots) => Scope::Within(roots.iter().cloned().collect()),
        }
    }

    /// The anchors stored with a batch fixed to this area (none: the whole instance); `None`
    /// for an empty area, which has no batches.
    pub(crate) fn anchors(&self) -> Option<Vec<String>> {
        match self {
            Self::Instance => Some(Vec::new()),
            Self::Subtrees(roots) if roots.is_empty() => None,
            Self::Subtrees(roots) => Some(roots.clone()),
        }
    }
}
