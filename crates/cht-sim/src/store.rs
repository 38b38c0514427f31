//! The in-memory databases (`medic`, `_users`, `medic-logs`) and the secondary indexes that keep
//! the CHT views and user filters fast at 100k documents.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::collate::{IdBound, Key};
use crate::settings::Settings;
use crate::util::{ancestor_ids, str_field, type_id};

#[derive(Debug, Clone)]
pub struct DocEntry {
    pub generation: u64,
    pub rev: String,
    pub deleted: bool,
    /// The full document including `_id` and `_rev` (for tombstones `{_id,_rev,_deleted}`).
    pub doc: Arc<Value>,
}

/// How a write treats `_rev`.
#[derive(Debug, Clone, Copy)]
pub enum RevCheck<'a> {
    /// CHT's API handlers read, merge and put: the client's `_rev` is irrelevant.
    Ignore,
    /// CouchDB semantics: an update must name the current revision.
    Couch(Option<&'a str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

#[derive(Debug, Default, Clone)]
pub struct Db {
    docs: BTreeMap<String, DocEntry>,
    live: usize,
}

fn make_rev(id: &str, generation: u64, prev: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(generation.to_le_bytes());
    h.update(prev.unwrap_or("").as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{generation}-{hex}")
}

impl Db {
    pub fn get(&self, id: &str) -> Option<&DocEntry> {
        self.docs.get(id)
    }

    pub fn live(&self, id: &str) -> Option<&Arc<Value>> {
        self.docs.get(id).filter(|e| !e.deleted).map(|e| &e.doc)
    }

    pub fn live_count(&self) -> usize {
        self.live
    }

    pub fn deleted_count(&self) -> usize {
        self.docs.len() - self.live
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (&String, &DocEntry)> {
        self.docs.iter()
    }

    pub fn range(
        &self,
        lo: Bound<String>,
        hi: Bound<String>,
    ) -> impl DoubleEndedIterator<Item = (&String, &DocEntry)> {
        self.docs.range((lo, hi))
    }

    fn check(&self, id: &str, rev: RevCheck<'_>) -> Result<(), Conflict> {
        let RevCheck::Couch(given) = rev else {
            return Ok(());
        };
        match (self.docs.get(id), given) {
            (Some(e), Some(g)) if g == e.rev => Ok(()),
            (Some(e), None) if e.deleted => Ok(()),
            (None, None) => Ok(()),
            _ => Err(Conflict),
        }
    }

    /// Writes `body` as the next revision of `id`; returns the new revision and the old entry.
    pub fn put(
        &mut self,
        id: &str,
        mut body: Map<String, Value>,
        rev: RevCheck<'_>,
    ) -> Result<(String, Option<DocEntry>), Conflict> {
        self.check(id, rev)?;
        let old = self.docs.get(id).cloned();
        let generation = old.as_ref().map_or(0, |e| e.generation) + 1;
        let new_rev = make_rev(id, generation, old.as_ref().map(|e| e.rev.as_str()));
        body.remove("_deleted");
        body.insert("_id".into(), Value::String(id.to_string()));
        body.insert("_rev".into(), Value::String(new_rev.clone()));
        if old.as_ref().is_none_or(|e| e.deleted) {
            self.live += 1;
        }
        self.docs.insert(
            id.to_string(),
            DocEntry {
                generation,
                rev: new_rev.clone(),
                deleted: false,
                doc: Arc::new(Value::Object(body)),
            },
        );
        Ok((new_rev, old))
    }

    /// Replaces `id` with a tombstone. A missing or already deleted doc is a `None` result.
    pub fn delete(
        &mut self,
        id: &str,
        rev: RevCheck<'_>,
    ) -> Result<Option<(String, DocEntry)>, Conflict> {
        let Some(old) = self.docs.get(id).filter(|e| !e.deleted).cloned() else {
            return Ok(None);
        };
        if let RevCheck::Couch(given) = rev
            && given != Some(old.rev.as_str())
        {
            return Err(Conflict);
        }
        let generation = old.generation + 1;
        let new_rev = make_rev(id, generation, Some(&old.rev));
        let tomb = serde_json::json!({"_id": id, "_rev": new_rev, "_deleted": true});
        self.live -= 1;
        self.docs.insert(
            id.to_string(),
            DocEntry {
                generation,
                rev: new_rev.clone(),
                deleted: true,
                doc: Arc::new(tomb),
            },
        );
        Ok(Some((new_rev, old)))
    }

    /// Restores an entry verbatim (seed and state files), keeping its revision.
    pub fn restore(&mut self, doc: Value) -> Result<(), String> {
        let id = str_field(&doc, "_id")
            .ok_or("document without _id")?
            .to_string();
        let deleted = doc
            .get("_deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (generation, rev) = match str_field(&doc, "_rev") {
            Some(r) => {
                let g = r
                    .split('-')
                    .next()
                    .and_then(|g| g.parse::<u64>().ok())
                    .ok_or_else(|| format!("bad _rev on {id}"))?;
                (g, r.to_string())
            }
            None => (1, make_rev(&id, 1, None)),
        };
        let mut doc = doc;
        if let Value::Object(m) = &mut doc {
            m.insert("_rev".into(), Value::String(rev.clone()));
        }
        if let Some(old) = self.docs.get(&id)
            && !old.deleted
        {
            self.live -= 1;
        }
        if !deleted {
            self.live += 1;
        }
        self.docs.insert(
            id,
            DocEntry {
                generation,
                rev,
                deleted,
                doc: Arc::new(doc),
            },
        );
        Ok(())
    }
}

pub type ViewIndex = BTreeSet<(Key, IdBound)>;

const BY_TYPE_BUILTIN: [&str; 4] = ["district_hospital", "health_center", "clinic", "person"];
const BY_DEPTH_TYPES: [&str; 5] = [
    "contact",
    "person",
    "clinic",
    "health_center",
    "district_hospital",
];

/// Keys `contacts_by_type` emits for a doc.
fn by_type_keys(doc: &Value) -> Option<Key> {
    let t = str_field(doc, "type")?;
    if !(t == "contact" || BY_TYPE_BUILTIN.contains(&t)) {
        return None;
    }
    let id = type_id(doc)?;
    Some(Key::Arr(vec![Key::Str(Arc::from(id))]))
}

/// Keys `contacts_by_depth` emits: `[ancestor]` and `[ancestor, depth]` for self and ancestors.
fn by_depth_keys(id: &str, doc: &Value) -> Vec<Key> {
    let Some(t) = str_field(doc, "type") else {
        return Vec::new();
    };
    if !BY_DEPTH_TYPES.contains(&t) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let chain = std::iter::once(id).chain(ancestor_ids(doc));
    for (depth, anc) in chain.enumerate() {
        let a: Arc<str> = Arc::from(anc);
        out.push(Key::Arr(vec![Key::Str(a.clone())]));
        out.push(Key::Arr(vec![Key::Str(a), Key::Num(depth as f64)]));
    }
    out
}

#[derive(Debug, Default, Clone)]
pub struct UserIndex {
    pub by_facility: BTreeMap<String, BTreeSet<String>>,
    pub by_contact: BTreeMap<String, BTreeSet<String>>,
    pub by_oidc: BTreeMap<String, String>,
}

/// The `facility_id` of a user doc as a list; pre-4.9 docs store a bare string.
pub fn facility_ids(doc: &Value) -> Vec<String> {
    match doc.get("facility_id") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

impl UserIndex {
    fn apply(&mut self, id: &str, doc: &Value, add: bool) {
        let name = id.to_string();
        for f in facility_ids(doc) {
            toggle(&mut self.by_facility, f, &name, add);
        }
        if let Some(c) = str_field(doc, "contact_id") {
            toggle(&mut self.by_contact, c.to_string(), &name, add);
        }
        if let Some(o) = str_field(doc, "oidc_username") {
            if add {
                self.by_oidc.insert(o.to_string(), name);
            } else {
                self.by_oidc.remove(o);
            }
        }
    }
}

fn toggle(map: &mut BTreeMap<String, BTreeSet<String>>, key: String, id: &str, add: bool) {
    if add {
        map.entry(key).or_default().insert(id.to_string());
    } else if let Some(set) = map.get_mut(&key) {
        set.remove(id);
        if set.is_empty() {
            map.remove(&key);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pub medic: Db,
    pub users: Db,
    pub logs: Db,
    pub by_type: ViewIndex,
    pub by_depth: ViewIndex,
    pub user_index: UserIndex,
    pub settings: Settings,
    /// Bumped on every write so the persister knows when to save.
    pub mutations: u64,
}

impl Store {
    pub fn new(settings: Settings) -> Self {
        Self {
            medic: Db::default(),
            users: Db::default(),
            logs: Db::default(),
            by_type: BTreeSet::new(),
            by_depth: BTreeSet::new(),
            user_index: UserIndex::default(),
            settings,
            mutations: 0,
        }
    }

    fn index_medic(&mut self, id: &str, doc: &Value, add: bool) {
        let idb = IdBound::Id(Arc::from(id));
        if let Some(k) = by_type_keys(doc) {
            if add {
                self.by_type.insert((k, idb.clone()));
            } else {
                self.by_type.remove(&(k, idb.clone()));
            }
        }
        for k in by_depth_keys(id, doc) {
            if add {
                self.by_depth.insert((k, idb.clone()));
            } else {
                self.by_depth.remove(&(k, idb.clone()));
            }
        }
    }

    pub fn put_medic(
        &mut self,
        id: &str,
        body: Map<String, Value>,
        rev: RevCheck<'_>,
    ) -> Result<String, Conflict> {
        let (new_rev, old) = self.medic.put(id, body, rev)?;
        if let Some(old) = old.filter(|e| !e.deleted) {
            self.index_medic(id, &old.doc, false);
        }
        let doc = self.medic.live(id).cloned().unwrap_or_default();
        self.index_medic(id, &doc, true);
        self.mutations += 1;
        Ok(new_rev)
    }

    pub fn delete_medic(
        &mut self,
        id: &str,
        rev: RevCheck<'_>,
    ) -> Result<Option<String>, Conflict> {
        let res = self.medic.delete(id, rev)?;
        Ok(res.map(|(new_rev, old)| {
            self.index_medic(id, &old.doc, false);
            self.mutations += 1;
            new_rev
        }))
    }

    pub fn put_user(
        &mut self,
        id: &str,
        body: Map<String, Value>,
        rev: RevCheck<'_>,
    ) -> Result<String, Conflict> {
        let (new_rev, old) = self.users.put(id, body, rev)?;
        if let Some(old) = old.filter(|e| !e.deleted) {
            self.user_index.apply(id, &old.doc, false);
        }
        let doc = self.users.live(id).cloned().unwrap_or_default();
        self.user_index.apply(id, &doc, true);
        self.mutations += 1;
        Ok(new_rev)
    }

    pub fn delete_user(&mut self, id: &str) -> Option<String> {
        let res = self.users.delete(id, RevCheck::Ignore).ok().flatten();
        res.map(|(new_rev, old)| {
            self.user_index.apply(id, &old.doc, false);
            self.mutations += 1;
            new_rev
        })
    }

    pub fn put_log(&mut self, id: &str, body: Map<String, Value>) -> String {
        self.mutations += 1;
        match self.logs.put(id, body, RevCheck::Ignore) {
            Ok((rev, _)) => rev,
            Err(Conflict) => unreachable!("RevCheck::Ignore never conflicts"),
        }
    }

    /// Loads a stored document into the right database, keeping its revision.
    pub fn restore(&mut self, db: DbName, doc: Value) -> Result<(), String> {
        let id = str_field(&doc, "_id")
            .ok_or("document without _id")?
            .to_string();
        match db {
            DbName::Medic => {
                if let Some(old) = self.medic.live(&id).cloned() {
                    self.index_medic(&id, &old, false);
                }
                self.medic.restore(doc)?;
                if let Some(new) = self.medic.live(&id).cloned() {
                    self.index_medic(&id, &new, true);
                }
            }
            DbName::Users => {
                if let Some(old) = self.users.live(&id).cloned() {
                    self.user_index.apply(&id, &old, false);
                }
                self.users.restore(doc)?;
                if let Some(new) = self.users.live(&id).cloned() {
                    self.user_index.apply(&id, &new, true);
                }
            }
            DbName::Logs => self.logs.restore(doc)?,
        }
        Ok(())
    }

    pub fn db(&self, name: DbName) -> &Db {
        match name {
            DbName::Medic => &self.medic,
            DbName::Users => &self.users,
            DbName::Logs => &self.logs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbName {
    Medic,
    Users,
    Logs,
}

impl DbName {
    pub fn as_str(self) -> &'static str {
        match self {
            DbName::Medic => "medic",
            DbName::Users => "_users",
            DbName::Logs => "medic-logs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::default_settings;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn couch_rev_check_and_indexes_follow_updates() {
        let mut s = Store::new(Settings::new(default_settings()));
        let r1 = s
            .put_medic(
                "hc",
                obj(json!({"type":"health_center","name":"A","parent":{"_id":"dh"}})),
                RevCheck::Couch(None),
            )
            .unwrap();
        assert!(r1.starts_with("1-"));
        assert_eq!(s.by_type.len(), 1);
        assert_eq!(s.by_depth.len(), 4);
        assert_eq!(
            s.put_medic("hc", obj(json!({"type":"clinic"})), RevCheck::Couch(None)),
            Err(Conflict)
        );
        s.put_medic(
            "hc",
            obj(json!({"type":"clinic"})),
            RevCheck::Couch(Some(&r1)),
        )
        .unwrap();
        // moved to the root: only the self rows remain
        assert_eq!(s.by_depth.len(), 2);
        assert!(s.delete_medic("hc", RevCheck::Ignore).unwrap().is_some());
        assert!(s.by_type.is_empty() && s.by_depth.is_empty());
        assert_eq!(s.medic.live_count(), 0);
        assert_eq!(s.medic.deleted_count(), 1);
    }
}
