//! Small helpers shared by the modules: a deterministic PRNG, JS-style truthiness and ids.

use serde_json::{Map, Value};

/// SplitMix64: tiny, fast and stable across releases, so a seed always yields the same demo data
/// (rand's `StdRng` makes no such promise between versions).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant for demo data and fault dice.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// 32 lower-case hex characters, the shape of a CouchDB-generated id.
    pub fn hex_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

/// A fresh CouchDB-style id for documents created at run time.
pub fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// JavaScript truthiness, which CHT's validation relies on.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// CHT's `missingFields` notion of "missing": falsy, an array with no truthy element, or an
/// object with no truthy value.
pub fn is_missing(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::Array(a)) => !a.iter().any(truthy),
        Some(Value::Object(o)) => !o.values().any(truthy),
        Some(v) => !truthy(v),
    }
}

pub fn str_field<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

/// The contact-type id of a document: `contact_type` for `type:"contact"`, else `type`.
pub fn type_id(doc: &Value) -> Option<&str> {
    match str_field(doc, "type")? {
        "contact" => str_field(doc, "contact_type"),
        t => Some(t),
    }
}

/// Ids of a document's ancestors, nearest first, from its minified `parent` chain.
pub fn ancestor_ids(doc: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut cur = doc.get("parent");
    while let Some(p) = cur {
        match p.get("_id").and_then(Value::as_str) {
            Some(id) => out.push(id),
            None => break,
        }
        cur = p.get("parent");
        if out.len() > 64 {
            break; // defends against a cyclic seed file
        }
    }
    out
}

/// The minified lineage `{_id, parent:{_id,…}}` that points at `doc`.
pub fn lineage_of(doc: &Value) -> Value {
    let mut m = Map::new();
    if let Some(id) = doc.get("_id") {
        m.insert("_id".into(), id.clone());
    }
    if let Some(p) = doc.get("parent").filter(|p| truthy(p)) {
        m.insert("parent".into(), minify(p));
    }
    Value::Object(m)
}

/// Strips a (possibly hydrated) lineage down to `_id`/`parent` pairs.
pub fn minify(lineage: &Value) -> Value {
    match lineage {
        Value::Object(_) => lineage_of(lineage),
        other => other.clone(),
    }
}

/// `encodeURIComponent`, for the login redirect parameter.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splitmix_is_deterministic() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.hex_id(), b.hex_id());
        assert_ne!(SplitMix64::new(8).hex_id(), SplitMix64::new(7).hex_id());
    }

    #[test]
    fn missing_follows_cht_rules() {
        assert!(is_missing(Some(&json!([]))));
        assert!(is_missing(Some(&json!([""]))));
        assert!(is_missing(Some(&json!({}))));
        assert!(is_missing(Some(&json!({"a": ""}))));
        assert!(!is_missing(Some(&json!(["x"]))));
        assert!(!is_missing(Some(&json!("x"))));
    }

    #[test]
    fn ancestors_follow_parent_chain() {
        let d = json!({"_id":"c","parent":{"_id":"b","parent":{"_id":"a"}}});
        assert_eq!(ancestor_ids(&d), vec!["b", "a"]);
        assert_eq!(
            lineage_of(&d),
            json!({"_id":"c","parent":{"_id":"b","parent":{"_id":"a"}}})
        );
    }
}
