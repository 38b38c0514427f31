//! CouchDB view-key collation: null < false < true < numbers < strings < arrays < objects.
//!
//! Strings compare by Unicode code point rather than ICU; for the ids and type names the CHT
//! views emit (ASCII) the two agree except for case and punctuation ordering.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Key {
    Null,
    Bool(bool),
    Num(f64),
    Str(Arc<str>),
    Arr(Vec<Key>),
    Obj(Vec<(Arc<str>, Key)>),
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Null => 0,
            Key::Bool(false) => 1,
            Key::Bool(true) => 2,
            Key::Num(_) => 3,
            Key::Str(_) => 4,
            Key::Arr(_) => 5,
            Key::Obj(_) => 6,
        }
    }

    pub fn from_json(v: &Value) -> Key {
        match v {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Number(n) => Key::Num(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Key::Str(Arc::from(s.as_str())),
            Value::Array(a) => Key::Arr(a.iter().map(Key::from_json).collect()),
            Value::Object(o) => Key::Obj(
                o.iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), Key::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Key::Null => Value::Null,
            Key::Bool(b) => Value::Bool(*b),
            Key::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
                }
            }
            Key::Str(s) => Value::String(s.to_string()),
            Key::Arr(a) => Value::Array(a.iter().map(Key::to_json).collect()),
            Key::Obj(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The key truncated to `level` array elements, as `group_level` does.
    pub fn truncate(&self, level: usize) -> Key {
        match self {
            Key::Arr(a) => Key::Arr(a.iter().take(level).cloned().collect()),
            other => other.clone(),
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a.total_cmp(b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Arr(a), Key::Arr(b)) => a.cmp(b),
            (Key::Obj(a), Key::Obj(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// The doc-id half of an index entry. `Min`/`Max` let a range cover every row of one key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdBound {
    Min,
    Id(Arc<str>),
    Max,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn couch_type_order() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(1),
            json!(2.5),
            json!("a"),
            json!("b"),
            json!([]),
            json!(["a"]),
            json!(["a", 0]),
            json!(["a", 1]),
            json!(["b"]),
            json!({}),
        ];
        for w in ordered.windows(2) {
            assert!(
                Key::from_json(&w[0]) < Key::from_json(&w[1]),
                "{} < {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn integers_round_trip() {
        assert_eq!(Key::from_json(&json!(["x", 3])).to_json(), json!(["x", 3]));
    }
}
