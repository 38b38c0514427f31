//! How a place's position in the hierarchy is written down, for scope checks.
//!
//! A *lineage path* lists ancestor ids from the root down, each followed by `/`, starting with
//! `/`: the root's lineage is `/`, its child's is `/root/`. A place is inside the subtree of `P`
//! when it is `P` or its lineage contains `/P/`. Ids are escaped (`%` → `%25`, `/` → `%2F`) so
//! an id can never forge a path segment.

/// Escapes one place id for use as a path segment.
#[must_use]
pub fn segment(id: &str) -> String {
    id.replace('%', "%25").replace('/', "%2F")
}

/// The lineage path of a place whose ancestors are `root_first` (root first, parent last).
#[must_use]
pub fn lineage<'a>(root_first: impl IntoIterator<Item = &'a str>) -> String {
    let mut path = String::from("/");
    for id in root_first {
        path.push_str(&segment(id));
        path.push('/');
    }
    path
}

/// The ancestor ids written in a lineage path, root first.
#[must_use]
pub fn ancestor_ids(lineage: &str) -> Vec<String> {
    lineage
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("%2F", "/").replace("%25", "%"))
        .collect()
}

/// True when the place `id` with lineage `lineage` is `root` or lies below it.
#[must_use]
pub fn is_within(id: &str, lineage: &str, root: &str) -> bool {
    id == root || lineage.contains(&format!("/{}/", segment(root)))
}

/// A lower-cased, accent-free, space-collapsed form of a name, for search and matching.
#[must_use]
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = name
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_paths_nest_and_escape() {
        assert_eq!(lineage([]), "/");
        assert_eq!(lineage(["kenya", "nairobi"]), "/kenya/nairobi/");
        // An id with a slash cannot pose as two ancestors.
        let tricky = lineage(["a/b"]);
        assert_eq!(tricky, "/a%2Fb/");
        assert!(!is_within("x", &tricky, "b"));
        assert!(is_within("x", &tricky, "a/b"));
        assert_eq!(ancestor_ids(&lineage(["a/b", "50%2F"])), ["a/b", "50%2F"]);
        assert!(is_within("nairobi", "/kenya/", "nairobi"));
        assert!(is_within("ward", "/kenya/nairobi/", "kenya"));
        assert!(!is_within("ward", "/kenya/nairobi/", "nair"));
    }

    #[test]
    fn name_keys_fold_case_accents_and_spaces() {
        assert_eq!(name_key("  Nyeri   MÉNÉZ "), "nyeri menez");
        assert_eq!(name_key("Ñandú"), "nandu");
    }
}
