//! The instance's places in memory, and resolving a row's hierarchy columns to places.
//!
//! [`PlaceIndex`] holds the cached places (and places staged earlier, marked as such) with their
//! parent links, built in O(places). Names are matched per hierarchy level through a hash map
//! from normalised name to places of the level's type ([`LevelMap`], built once per contact type
//! and index), so resolving a row costs a few hash lookups and short parent walks, whatever the
//! size of the instance.
//!
//! Matching follows UMT (its §2 feature 13): a place matches when its name equals the entered
//! text, or when both are equal once "fuzzed" by the level's name formatting (title case,
//! configured suffixes such as " Community Health Unit" stripped), ignoring case and accents.
//! The parent (level 1) is disambiguated by the higher levels' text through its lineage; the
//! place being replaced (level 0) must be a child of the resolved parent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::problem::{Problem, ProblemKind};
use crate::text::{Strip, fold_into, format_name_into, format_string_into};

const NONE: u32 = u32::MAX;

/// Most candidates compared by edit distance for one suggestion; bigger pools get none.
const MAX_SUGGESTION_POOL: usize = 500;
/// Most places listed in a message.
const MAX_LISTED: usize = 5;

/// A place as the portal caches it from a CHT instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRecord {
    /// The CHT document id.
    pub id: String,
    /// The CHT place type (`c_community_health_unit`).
    pub contact_type: String,
    /// The place's name as stored in CHT.
    pub name: String,
    /// The parent place's id; `None` for a top-level place.
    pub parent_id: Option<String>,
}

/// A place a row resolved to: a cheap shared handle (one reference count) on the index's record.
#[derive(Debug, Clone)]
pub struct PlaceRef(Arc<PlaceData>);

#[derive(Debug)]
struct PlaceData {
    id: Arc<str>,
    name: Box<str>,
    staged: bool,
}

impl PlaceRef {
    /// The CHT document id (for a staged place: the id it will be created with).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The place's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The place is staged, not yet on the instance: it must be created before the row.
    #[must_use]
    pub fn is_staged(&self) -> bool {
        self.0.staged
    }

    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.0.id
    }
}

impl PartialEq for PlaceRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.id == other.0.id
                && self.0.name == other.0.name
                && self.0.staged == other.0.staged)
    }
}

impl Eq for PlaceRef {}

/// Which places the operator may act on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every place of the instance.
    #[default]
    All,
    /// Only these places and their descendants (place ids, typically the operator's facilities).
    Within(HashSet<String>),
}

/// Two records with the same id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a place with id \"{0}\" is already in the index")]
pub struct DuplicatePlace(pub String);

#[derive(Debug, Clone)]
struct Place {
    data: PlaceRef,
    kind: u32,
    parent: u32,
    /// The parent id as given while the parent is not in the index, kept for scope checks.
    parent_id: Option<Arc<str>>,
    first_child: u32,
    next_sibling: u32,
}

/// The places of one instance, indexed by id, type and parent.
#[derive(Debug, Clone, Default)]
pub struct PlaceIndex {
    places: Vec<Place>,
    by_id: HashMap<Arc<str>, u32>,
    kinds: Vec<String>,
    kind_ix: HashMap<String, u32>,
    members: Vec<Vec<u32>>,
}

impl PlaceIndex {
    /// Indexes cached places in O(n). Records may come in any order; a repeated id keeps the
    /// first record. Parents missing from the records leave their children as roots (their
    /// parent id still counts for [`Scope`]).
    ///
    /// Walking lineage needs every place between a row's parent and its highest configured
    /// level, so load every place type of the deployment, not only the configured ones, when a
    /// contact type skips levels.
    #[must_use]
    pub fn new(records: impl IntoIterator<Item = PlaceRecord>) -> Self {
        let records = records.into_iter();
        let mut index = Self::default();
        index.places.reserve(records.size_hint().0);
        for record in records {
            let _ = index.insert(record, false);
        }
        for i in 0..index.places.len() {
            index.link(i);
        }
        index
    }

    /// Adds a place staged in this session (not yet on the instance), which later rows may use
    /// as a parent or name as a duplicate. Add parents before their children, and before
    /// building the [`crate::Engine`] that should see them.
    ///
    /// # Errors
    /// [`DuplicatePlace`] when the id is already indexed.
    pub fn add_staged(&mut self, record: PlaceRecord) -> Result<(), DuplicatePlace> {
        let i = self.insert(record, true)?;
        self.link(i);
        Ok(())
    }

    /// Adds places staged elsewhere (other batches), in any order: all are inserted before any
    /// is linked, so a staged place may be the parent of another. Records whose id is already
    /// indexed are skipped and counted.
    pub fn extend_staged(&mut self, records: impl IntoIterator<Item = PlaceRecord>) -> usize {
        let first = self.places.len();
        let mut skipped = 0;
        for record in records {
            if self.insert(record, true).is_err() {
                skipped += 1;
            }
        }
        for i in first..self.places.len() {
            self.link(i);
        }
        skipped
    }

    fn insert(&mut self, record: PlaceRecord, staged: bool) -> Result<usize, DuplicatePlace> {
        if self.by_id.contains_key(record.id.as_str()) {
            return Err(DuplicatePlace(record.id));
        }
        let kind = self.kind_of_or_insert(record.contact_type);
        let i = self.places.len();
        let ix = u32::try_from(i).unwrap_or(NONE);
        let id: Arc<str> = record.id.into();
        self.by_id.insert(Arc::clone(&id), ix);
        self.members[kind as usize].push(ix);
        self.places.push(Place {
            data: PlaceRef(Arc::new(PlaceData {
                id,
                name: record.name.into(),
                staged,
            })),
            kind,
            parent: NONE,
            parent_id: record.parent_id.map(Into::into),
            first_child: NONE,
            next_sibling: NONE,
        });
        Ok(i)
    }

    fn kind_of_or_insert(&mut self, kind: String) -> u32 {
        if let Some(&k) = self.kind_ix.get(&kind) {
            return k;
        }
        let k = u32::try_from(self.kinds.len()).unwrap_or(NONE);
        self.kinds.push(kind.clone());
        self.kind_ix.insert(kind, k);
        self.members.push(Vec::new());
        k
    }

    fn link(&mut self, i: usize) {
        let Some(parent_id) = self.places[i].parent_id.clone() else {
            return;
        };
        let Some(&parent) = self.by_id.get(&parent_id) else {
            return;
        };
        if parent as usize == i {
            return;
        }
        let child = u32::try_from(i).unwrap_or(NONE);
        let sibling = self.places[parent as usize].first_child;
        self.places[i].parent = parent;
        self.places[i].parent_id = None;
        self.places[i].next_sibling = sibling;
        self.places[parent as usize].first_child = child;
    }

    /// Number of places.
    #[must_use]
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The place with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<PlaceRef> {
        self.by_id.get(id).map(|&i| self.place_ref(i))
    }

    /// The names of a place's ancestors, parent first (what CHT calls its lineage).
    #[must_use]
    pub fn lineage(&self, id: &str) -> Vec<PlaceRef> {
        let mut out = Vec::new();
        let Some(&start) = self.by_id.get(id) else {
            return out;
        };
        let mut current = self.places[start as usize].parent;
        while current != NONE && out.len() < self.places.len() {
            out.push(self.place_ref(current));
            current = self.places[current as usize].parent;
        }
        out
    }

    pub(crate) fn place_ref(&self, i: u32) -> PlaceRef {
        self.places[i as usize].data.clone()
    }

    pub(crate) fn kind(&self, contact_type: &str) -> Option<u32> {
        self.kind_ix.get(contact_type).copied()
    }

    pub(crate) fn members(&self, kind: u32) -> &[u32] {
        self.members.get(kind as usize).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn name(&self, i: u32) -> &str {
        self.places[i as usize].data.name()
    }

    pub(crate) fn id(&self, i: u32) -> &Arc<str> {
        self.places[i as usize].data.id_arc()
    }

    pub(crate) fn index_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn parent(&self, i: u32) -> Option<u32> {
        let p = self.places[i as usize].parent;
        (p != NONE).then_some(p)
    }

    fn kind_at(&self, i: u32) -> u32 {
        self.places[i as usize].kind
    }

    /// The ancestor `generations` above `i` (1 = parent).
    fn ancestor(&self, mut i: u32, generations: u32) -> Option<u32> {
        for _ in 0..generations {
            i = self.parent(i)?;
        }
        Some(i)
    }

    fn children(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let mut next = self.places[i as usize].first_child;
        std::iter::from_fn(move || {
            if next == NONE {
                return None;
            }
            let current = next;
            next = self.places[current as usize].next_sibling;
            Some(current)
        })
    }

    /// Whether place `i` is inside the scope: it, or an ancestor (loaded or only named by a
    /// parent id), is one of the scope's roots.
    pub(crate) fn in_scope(&self, i: u32, scope: &Scope) -> bool {
        let Scope::Within(roots) = scope else {
            return true;
        };
        let mut current = i;
        for _ in 0..=self.places.len() {
            let place = &self.places[current as usize];
            if roots.contains(place.data.id()) {
                return true;
            }
            if place.parent == NONE {
                return place
                    .parent_id
                    .as_ref()
                    .is_some_and(|p| roots.contains(&**p));
            }
            current = place.parent;
        }
        false
    }
}

/// How a level turns text into its fuzzy comparison key.
#[derive(Debug, Clone)]
pub(crate) enum KeyRule {
    /// `name` properties: name formatting with the level's strip patterns.
    Name(Strip),
    /// `string` properties: string formatting.
    String,
    /// Anything else: the text itself.
    Plain,
}

/// Buffers for keys, reused across rows.
#[derive(Debug, Default)]
pub(crate) struct KeyScratch {
    formatted: String,
    inner: String,
    plain: String,
    fuzzy: String,
}

impl KeyRule {
    /// `text` folded after the level's formatting: the key duplicates are compared by.
    pub(crate) fn fuzzy<'s>(&self, text: &str, scratch: &'s mut KeyScratch) -> &'s str {
        self.keys(text, None, scratch).1
    }

    /// The two keys of `text`: folded as written, and folded after the level's formatting
    /// (`formatted`, when the caller already has it).
    fn keys<'s>(
        &self,
        text: &str,
        formatted: Option<&str>,
        scratch: &'s mut KeyScratch,
    ) -> (&'s str, &'s str) {
        fold_into(text, &mut scratch.plain);
        let formatted = match (formatted, self) {
            (_, Self::Plain) => return (&scratch.plain, &scratch.plain),
            (Some(done), _) => done,
            (None, Self::Name(strip)) => {
                format_name_into(text, strip, &mut scratch.inner, &mut scratch.formatted);
                &scratch.formatted
            }
            (None, Self::String) => {
                format_string_into(text, &mut scratch.formatted);
                &scratch.formatted
            }
        };
        fold_into(formatted, &mut scratch.fuzzy);
        (&scratch.plain, &scratch.fuzzy)
    }
}

/// One hierarchy level of a contact type, as the resolver needs it.
#[derive(Debug, Clone)]
pub(crate) struct LevelSpec {
    /// 1 = parent, 2 = grandparent, …
    pub(crate) level: u32,
    /// The column header.
    pub(crate) column: String,
    /// The CHT place type searched.
    pub(crate) contact_type: String,
    pub(crate) required: bool,
    pub(crate) key: KeyRule,
}

/// Places of one level's type by both keys of their names.
#[derive(Debug, Default)]
pub(crate) struct LevelMap {
    kind: Option<u32>,
    by_key: HashMap<Box<str>, Vec<u32>>,
    /// Each place's fuzzy key, by place (sorted), for suggestions.
    fuzzy: Vec<(u32, Box<str>)>,
}

impl LevelMap {
    pub(crate) fn build(index: &PlaceIndex, spec: &LevelSpec) -> Self {
        let Some(kind) = index.kind(&spec.contact_type) else {
            return Self::default();
        };
        let members = index.members(kind);
        let mut by_key: HashMap<Box<str>, Vec<u32>> = HashMap::with_capacity(members.len() * 2);
        let mut fuzzy_keys = Vec::with_capacity(members.len());
        let mut scratch = KeyScratch::default();
        for &i in members {
            let (plain, fuzzy) = spec.key.keys(index.name(i), None, &mut scratch);
            by_key.entry(plain.into()).or_default().push(i);
            if fuzzy != plain && !fuzzy.is_empty() {
                by_key.entry(fuzzy.into()).or_default().push(i);
            }
            fuzzy_keys.push((i, fuzzy.into()));
        }
        // Members are in index order already, unless staged places came in between.
        fuzzy_keys.sort_unstable_by_key(|(i, _)| *i);
        Self {
            kind: Some(kind),
            by_key,
            fuzzy: fuzzy_keys,
        }
    }

    /// The fuzzy key of place `i`, if it is of this level's type.
    fn fuzzy_of(&self, i: u32) -> Option<&str> {
        self.fuzzy
            .binary_search_by_key(&i, |(p, _)| *p)
            .ok()
            .map(|at| &*self.fuzzy[at].1)
    }

    /// Places whose name matches `text` by either key, each once, in index order.
    fn lookup(
        &self,
        spec: &LevelSpec,
        text: &str,
        formatted: Option<&str>,
        scratch: &mut KeyScratch,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let (plain, fuzzy) = spec.key.keys(text, formatted, scratch);
        for key in [plain, fuzzy] {
            if let Some(found) = self.by_key.get(key) {
                out.extend_from_slice(found);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// What resolving one row's hierarchy found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Per level, in the order of the specs given (parent first): the place, when known.
    pub(crate) levels: Vec<Option<PlaceRef>>,
    /// The place being replaced.
    pub(crate) replacement: Option<PlaceRef>,
    pub(crate) problems: Vec<Problem>,
}

/// The replacement level (level 0): children of the parent of the row's own type.
#[derive(Debug, Clone)]
pub(crate) struct ReplacementSpec {
    pub(crate) column: String,
    pub(crate) contact_type: String,
    pub(crate) key: KeyRule,
}

/// Resolves rows of one contact type against one index. Built once (O(places of the level
/// types)), then shared by every row and thread.
#[derive(Debug)]
pub(crate) struct Resolver {
    index: Arc<PlaceIndex>,
    /// Sorted by level, parent first.
    specs: Vec<LevelSpec>,
    maps: Vec<LevelMap>,
    replacement: ReplacementSpec,
}

/// Per-thread buffers and the memo of suggestions (a misspelt CHU repeats on every row of its
/// CHPs).
#[derive(Debug, Default)]
pub(crate) struct ResolveScratch {
    keys: KeyScratch,
    found: Vec<Vec<u32>>,
    parent_candidates: Vec<u32>,
    constraints: Vec<usize>,
    suggestions: HashMap<(usize, u32, String), Vec<String>>,
}

impl Resolver {
    pub(crate) fn new(
        index: Arc<PlaceIndex>,
        mut specs: Vec<LevelSpec>,
        replacement: ReplacementSpec,
    ) -> Self {
        specs.sort_by_key(|s| s.level);
        let maps = specs.iter().map(|s| LevelMap::build(&index, s)).collect();
        Self {
            index,
            specs,
            maps,
            replacement,
        }
    }

    pub(crate) fn index(&self) -> &PlaceIndex {
        &self.index
    }

    /// Resolves one row: `texts[k]` is the cell of level `k` (parent first) and `formatted[k]`
    /// the same cell formatted by the level's property type, when the caller has it.
    pub(crate) fn resolve(
        &self,
        texts: &[&str],
        formatted: &[&str],
        replacement: &str,
        scope: &Scope,
        scratch: &mut ResolveScratch,
    ) -> Resolution {
        // One slot more than the levels: the caller appends the replacement without a copy.
        let mut levels = Vec::with_capacity(self.specs.len() + 1);
        levels.resize(self.specs.len(), None);
        let mut resolution = Resolution {
            levels,
            ..Resolution::default()
        };
        if self.specs.is_empty() {
            return resolution;
        }
        scratch.found.resize_with(self.specs.len(), Vec::new);
        let text = |k: usize| texts.get(k).copied().unwrap_or("").trim();

        // Higher levels, top down (so each can be placed under the ones above it): candidates
        // by name only, since scope applies to what the row acts on, not to its ancestors.
        let mut constraints = std::mem::take(&mut scratch.constraints);
        constraints.clear();
        for k in (1..self.specs.len()).rev() {
            let (spec, map) = (&self.specs[k], &self.maps[k]);
            let mut found = std::mem::take(&mut scratch.found[k]);
            found.clear();
            if text(k).is_empty() {
                if spec.required {
                    resolution.problems.push(required(spec, text(k)));
                }
            } else {
                map.lookup(
                    spec,
                    text(k),
                    formatted.get(k).copied(),
                    &mut scratch.keys,
                    &mut found,
                );
                if found.is_empty() {
                    let (under, root) = self.under(k, texts, &scratch.found, &resolution);
                    let suggestions = self.suggest(k, root, text(k), scratch);
                    resolution.problems.push(not_found(
                        spec,
                        text(k),
                        under.as_deref(),
                        &suggestions,
                        None,
                    ));
                } else {
                    constraints.push(k);
                }
            }
            scratch.found[k] = found;
        }

        // The parent, narrowed by the higher levels through its lineage.
        let mut parent_ix = None;
        let spec = &self.specs[0];
        let parent_text = text(0);
        if parent_text.is_empty() {
            if spec.required {
                resolution.problems.push(required(spec, parent_text));
            }
        } else {
            let mut candidates = std::mem::take(&mut scratch.parent_candidates);
            self.maps[0].lookup(
                spec,
                parent_text,
                formatted.first().copied(),
                &mut scratch.keys,
                &mut candidates,
            );
            let by_name = !candidates.is_empty();
            candidates.retain(|&c| {
                constraints.iter().all(|&k| {
                    let generations = self.specs[k].level.saturating_sub(1);
                    self.index
                        .ancestor(c, generations)
                        .is_some_and(|a| scratch.found[k].binary_search(&a).is_ok())
                })
            });
            let in_lineage = candidates.len();
            candidates.retain(|&c| self.index.in_scope(c, scope));
            match candidates.as_slice() {
                [one] => {
                    parent_ix = Some(*one);
                    resolution.levels[0] = Some(self.index.place_ref(*one));
                }
                [] if in_lineage > 0 => resolution.problems.push(out_of_scope(spec, parent_text)),
                [] => {
                    let (under, root) = self.under(0, texts, &scratch.found, &resolution);
                    let suggestions = self.suggest(0, root, parent_text, scratch);
                    let elsewhere = if by_name && !constraints.is_empty() {
                        self.elsewhere(spec, parent_text, scope, scratch)
                    } else {
                        None
                    };
                    resolution.problems.push(not_found(
                        spec,
                        parent_text,
                        under.as_deref(),
                        &suggestions,
                        elsewhere.as_deref(),
                    ));
                }
                many => {
                    let under = self.under(0, texts, &scratch.found, &resolution).0;
                    let empty_higher = self.specs[1..]
                        .iter()
                        .enumerate()
                        .find(|(k, _)| text(k + 1).is_empty())
                        .map(|(_, s)| s.column.as_str());
                    resolution.problems.push(self.ambiguous(
                        spec,
                        parent_text,
                        under.as_deref(),
                        many,
                        empty_higher,
                    ));
                }
            }
            scratch.parent_candidates = candidates;
        }

        // Higher levels follow from the resolved parent's lineage.
        if let Some(p) = parent_ix {
            for k in 1..self.specs.len() {
                let generations = self.specs[k].level.saturating_sub(1);
                resolution.levels[k] = self
                    .index
                    .ancestor(p, generations)
                    .map(|a| self.index.place_ref(a));
            }
        } else {
            for &k in &constraints {
                if let [one] = scratch.found[k].as_slice() {
                    resolution.levels[k] = Some(self.index.place_ref(*one));
                }
            }
        }

        scratch.constraints = constraints;

        let replacement = replacement.trim();
        if !replacement.is_empty() {
            if let Some(parent) = resolution.levels[0].as_ref() {
                let parent_name = parent.name().to_owned();
                match self.resolve_replacement(parent.id(), replacement, scratch) {
                    Ok(place) => resolution.replacement = Some(place),
                    Err(problem) => resolution
                        .problems
                        .push(problem_with_under(problem, &parent_name)),
                }
            }
        }
        resolution
    }

    /// The place being replaced: a child of the parent, of the row's own type, matching by name.
    fn resolve_replacement(
        &self,
        parent_id: &str,
        text: &str,
        scratch: &mut ResolveScratch,
    ) -> Result<PlaceRef, Problem> {
        let spec = &self.replacement;
        let Some(parent) = self.index.index_of(parent_id) else {
            return Err(not_found_in(&spec.column, text, &[]));
        };
        let kind = self.index.kind(&spec.contact_type);
        let (plain, fuzzy) = spec.key.keys(text, None, &mut scratch.keys);
        let (plain, fuzzy) = (plain.to_owned(), fuzzy.to_owned());
        let mut matches = Vec::new();
        let mut siblings = Vec::new();
        let mut keys = KeyScratch::default();
        for child in self.index.children(parent) {
            if Some(self.index.kind_at(child)) != kind {
                continue;
            }
            let (p, f) = spec.key.keys(self.index.name(child), None, &mut keys);
            if p == plain || (!fuzzy.is_empty() && f == fuzzy) {
                matches.push(child);
            } else if siblings.len() < MAX_SUGGESTION_POOL {
                siblings.push((f.to_owned(), child));
            }
        }
        match matches.as_slice() {
            [one] => Ok(self.index.place_ref(*one)),
            [] => {
                let names = closest(&fuzzy, siblings.iter().map(|(k, i)| (k.as_str(), *i)))
                    .into_iter()
                    .map(|i| self.index.name(i).to_owned())
                    .collect::<Vec<_>>();
                Err(not_found_in(&spec.column, text, &names))
            }
            many => {
                let listed = self.list(many);
                Err(Problem::new(
                    ProblemKind::Ambiguous,
                    Some(&spec.column),
                    text,
                    format!(
                        "Found multiple {}s matching '{text}' ({listed})",
                        spec.column
                    ),
                    "Ask an administrator to rename one of them in CHT, then refresh.",
                ))
            }
        }
    }

    /// The name the level is searched under (the nearest filled higher level, by its resolved
    /// name when unique) and the place whose descendants make the suggestion pool.
    fn under(
        &self,
        k: usize,
        texts: &[&str],
        found: &[Vec<u32>],
        resolution: &Resolution,
    ) -> (Option<String>, Option<u32>) {
        for j in k + 1..self.specs.len() {
            let text = texts.get(j).copied().unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            if let Some(place) = &resolution.levels[j] {
                return (
                    Some(place.name().to_owned()),
                    self.index.index_of(place.id()),
                );
            }
            return match found.get(j).map(Vec::as_slice) {
                Some([one]) => (Some(self.index.name(*one).to_owned()), Some(*one)),
                _ => (Some(text.to_owned()), None),
            };
        }
        (None, None)
    }

    /// Names close to `text` among the level's places under `root` (or among all of them when
    /// they are few). Bounded: at most [`MAX_SUGGESTION_POOL`] names are compared, and repeated
    /// misspellings are answered from a memo.
    fn suggest(
        &self,
        k: usize,
        root: Option<u32>,
        text: &str,
        scratch: &mut ResolveScratch,
    ) -> Vec<String> {
        let spec = &self.specs[k];
        let Some(kind) = self.maps[k].kind else {
            return Vec::new();
        };
        let fuzzy = spec.key.fuzzy(text, &mut scratch.keys).to_owned();
        let memo_key = (k, root.unwrap_or(NONE), fuzzy.clone());
        if let Some(hit) = scratch.suggestions.get(&memo_key) {
            return hit.clone();
        }
        let pool: Vec<u32> = match root {
            Some(root) => {
                let depth = self.root_depth(k, root);
                self.descendants(root, depth, kind)
            }
            None => {
                let all = self.index.members(kind);
                if all.len() <= MAX_SUGGESTION_POOL {
                    all.to_vec()
                } else {
                    Vec::new()
                }
            }
        };
        let map = &self.maps[k];
        let keyed = pool
            .iter()
            .filter_map(|&i| map.fuzzy_of(i).map(|key| (key, i)));
        let names: Vec<String> = closest(&fuzzy, keyed)
            .into_iter()
            .map(|i| self.index.name(i).to_owned())
            .collect();
        scratch.suggestions.insert(memo_key, names.clone());
        names
    }

    /// How many generations separate level `k` from the place `root` of a higher level.
    fn root_depth(&self, k: usize, root: u32) -> u32 {
        let root_kind = self.index.kind_at(root);
        self.specs
            .iter()
            .zip(&self.maps)
            .skip(k + 1)
            .find(|(_, m)| m.kind == Some(root_kind))
            .map_or(1, |(s, _)| s.level.saturating_sub(self.specs[k].level))
    }

    /// Places of `kind` exactly `depth` generations below `root`; empty if the walk exceeds the
    /// pool bound.
    fn descendants(&self, root: u32, depth: u32, kind: u32) -> Vec<u32> {
        let mut frontier = vec![root];
        for _ in 0..depth {
            let mut next = Vec::new();
            for &p in &frontier {
                next.extend(self.index.children(p));
                if next.len() > MAX_SUGGESTION_POOL * 4 {
                    return Vec::new();
                }
            }
            frontier = next;
        }
        frontier.retain(|&i| self.index.kind_at(i) == kind);
        if frontier.len() > MAX_SUGGESTION_POOL {
            frontier.clear();
        }
        frontier
    }

    /// When the parent's name exists but under other higher levels: where (in scope only).
    fn elsewhere(
        &self,
        spec: &LevelSpec,
        text: &str,
        scope: &Scope,
        scratch: &mut ResolveScratch,
    ) -> Option<String> {
        let mut all = Vec::new();
        self.maps[0].lookup(spec, text, None, &mut scratch.keys, &mut all);
        all.retain(|&c| self.index.in_scope(c, scope));
        if all.is_empty() {
            return None;
        }
        Some(self.list(&all))
    }

    /// `'Abc' in 'Kibwezi', 'Abc CHU' in 'Makueni'` (at most [`MAX_LISTED`]).
    fn list(&self, places: &[u32]) -> String {
        let mut parts: Vec<String> = places
            .iter()
            .take(MAX_LISTED)
            .map(|&i| match self.index.parent(i) {
                Some(p) => format!("'{}' in '{}'", self.index.name(i), self.index.name(p)),
                None => format!("'{}'", self.index.name(i)),
            })
            .collect();
        if places.len() > MAX_LISTED {
            parts.push(format!("and {} more", places.len() - MAX_LISTED));
        }
        parts.join(", ")
    }

    fn ambiguous(
        &self,
        spec: &LevelSpec,
        text: &str,
        under: Option<&str>,
        places: &[u32],
        empty_higher: Option<&str>,
    ) -> Problem {
        let under = under.map(|u| format!(" under '{u}'")).unwrap_or_default();
        let fix = empty_higher.map_or_else(
            || "Ask an administrator to rename one of them in CHT, then refresh.".to_owned(),
            |column| format!("Fill in \"{column}\" to say which one."),
        );
        Problem::new(
            ProblemKind::Ambiguous,
            Some(&spec.column),
            text,
            format!(
                "Found multiple {}s matching '{text}'{under} ({})",
                spec.column,
                self.list(places)
            ),
            fix,
        )
    }
}

fn problem_with_under(mut problem: Problem, parent: &str) -> Problem {
    if problem.kind == ProblemKind::NotFound && !problem.message.contains(" under '") {
        let column = problem.column.clone().unwrap_or_default();
        problem.message = format!(
            "Cannot find '{column}' matching '{}' under '{parent}'",
            problem.value
        );
    }
    problem
}

fn required(spec: &LevelSpec, text: &str) -> Problem {
    Problem::new(
        ProblemKind::Required,
        Some(&spec.column),
        text,
        crate::values::REQUIRED,
        format!(
            "Fill in \"{}\" with the name of an existing place.",
            spec.column
        ),
    )
}

fn not_found(
    spec: &LevelSpec,
    text: &str,
    under: Option<&str>,
    suggestions: &[String],
    elsewhere: Option<&str>,
) -> Problem {
    let under_text = under.map(|u| format!(" under '{u}'")).unwrap_or_default();
    let mut problem = not_found_in(&spec.column, text, suggestions);
    problem.message = format!(
        "Cannot find '{}' matching '{text}'{under_text}",
        spec.column
    );
    if let Some(elsewhere) = elsewhere {
        problem.fix = format!(
            "It exists elsewhere ({elsewhere}): correct the higher columns, or {}",
            lowercase_first(&problem.fix)
        );
    }
    problem
}

fn not_found_in(column: &str, text: &str, suggestions: &[String]) -> Problem {
    let fix = match suggestions {
        [] => "Check the spelling against the names in CHT.".to_owned(),
        [one] => format!("Did you mean '{one}'? Check the spelling."),
        many => {
            let quoted: Vec<String> = many.iter().map(|s| format!("'{s}'")).collect();
            format!(
                "Did you mean one of {}? Check the spelling.",
                quoted.join(", ")
            )
        }
    };
    Problem::new(
        ProblemKind::NotFound,
        Some(column),
        text,
        format!("Cannot find '{column}' matching '{text}'"),
        fix,
    )
}

fn out_of_scope(spec: &LevelSpec, text: &str) -> Problem {
    Problem::new(
        ProblemKind::OutOfScope,
        Some(&spec.column),
        text,
        format!("'{text}' exists but is outside this batch's area"),
        "A batch only adds users inside the area its author could stage in when uploading it: \
         check the name, or stage this row in a batch for that area.",
    )
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

/// Up to three candidates closest to `key` by edit distance (ties by order), within a distance
/// that grows with the length; candidates starting with `key` count as close.
///
/// Names are compared without the words that end every candidate (" sub county" when all the
/// sub-counties carry it and the level strips no such suffix): otherwise the shared words set a
/// lenient distance limit and the same short names come first for every misspelling.
fn closest<'a>(key: &str, candidates: impl Iterator<Item = (&'a str, u32)>) -> Vec<u32> {
    let candidates: Vec<(&str, u32)> = candidates.collect();
    let names: Vec<&str> = candidates.iter().map(|(name, _)| *name).collect();
    let shared = shared_word_suffix(&names);
    let key = strip_word_suffix(key, shared);
    if key.is_empty() {
        return Vec::new();
    }
    let key_len = key.chars().count();
    let limit = (key_len / 3).max(2);
    let mut scored: Vec<(usize, u32)> = candidates
        .into_iter()
        .filter_map(|(candidate, i)| {
            let candidate = strip_word_suffix(candidate, shared);
            let distance = strsim::levenshtein(key, candidate);
            let prefix = key_len >= 3 && candidate.starts_with(key);
            (distance <= limit || prefix).then_some((if prefix { 0 } else { distance }, i))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup_by_key(|(_, i)| *i);
    scored.into_iter().take(3).map(|(_, i)| i).collect()
}

/// The longest run of whole words (with its leading space) that ends every name, leaving each a
/// non-empty rest; empty with fewer than two names.
fn shared_word_suffix<'a>(names: &[&'a str]) -> &'a str {
    let [first, rest @ ..] = names else {
        return "";
    };
    if rest.is_empty() {
        return "";
    }
    let mut shared: &str = first;
    for name in rest {
        let common = shared
            .bytes()
            .rev()
            .zip(name.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        shared = &shared[shared.len() - common..];
        // Keep the suffix on a char boundary: at most the whole of `first`.
        while !first.is_char_boundary(first.len() - shared.len()) {
            shared = &shared[1..];
        }
        if shared.is_empty() {
            return "";
        }
    }
    // Cut to whole words: the suffix must start with the space before a word, and leave a rest.
    match shared.find(' ') {
        Some(at) if first.len() > shared.len() - at => &shared[at..],
        _ => "",
    }
}

/// `name` without `suffix` when it ends with it and keeps a non-empty rest.
fn strip_word_suffix<'a>(name: &'a str, suffix: &str) -> &'a str {
    match name.strip_suffix(suffix) {
        Some(rest) if !suffix.is_empty() && !rest.is_empty() => rest,
        _ => name,
    }
}
