//! Which places of an instance something reaches: a person's area for a permission, the area a
//! batch was staged for, what a page may list.

use crate::place_path;

/// Every place of the instance, or these places and everything below them (none: nowhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceScope {
    Everything,
    /// Only these places (ids) and what lies below them; an empty list reaches nothing.
    Subtrees(Vec<String>),
}

impl PlaceScope {
    /// Nothing at all.
    #[must_use]
    pub const fn nothing() -> Self {
        Self::Subtrees(Vec::new())
    }

    #[must_use]
    pub fn is_nothing(&self) -> bool {
        matches!(self, Self::Subtrees(roots) if roots.is_empty())
    }

    /// Whether the place `id`, whose cached lineage is `lineage` ([`place_path`]), is inside.
    #[must_use]
    pub fn covers(&self, id: &str, lineage: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Subtrees(roots) => roots
                .iter()
                .any(|root| place_path::is_within(id, lineage, root)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_covers_its_roots_and_what_lies_below_them() {
        let kibwezi = PlaceScope::Subtrees(vec!["kibwezi".into()]);
        let lineage = place_path::lineage(["makueni", "kibwezi"]);
        assert!(kibwezi.covers("kalawa", &lineage));
        assert!(kibwezi.covers("kibwezi", &place_path::lineage(["makueni"])));
        assert!(!kibwezi.covers("makueni", &place_path::lineage([])));
        assert!(PlaceScope::Everything.covers("makueni", ""));
        assert!(!PlaceScope::nothing().covers("kalawa", &lineage));
        assert!(PlaceScope::nothing().is_nothing());
    }
}
