//! No input makes `check` panic: random bytes, truncated files, random JSON shapes, and the real
//! configs with random parts replaced. Deterministic (a fixed-seed generator), so failures repeat.

mod common;

use common::{KENYA, UGANDA};
use portal_deploy_config::{DeploymentConfig, check};
use serde_json::{Map, Value, json};

/// xorshift64*: small, deterministic, good enough to shake inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "domains",
    "contact_types",
    "friendly",
    "domain",
    "useHttp",
    "idpOrigins",
    "logoBase64",
    "attribute_for_external_ownership",
    "external_sources",
    "name",
    "contact_type",
    "user_role",
    "username_from_place",
    "deactivate_users_on_replace",
    "can_assign_multiple",
    "hierarchy",
    "replacement_property",
    "place_properties",
    "contact_properties",
    "friendly_name",
    "property_name",
    "type",
    "parameter",
    "required",
    "errorDescription",
    "unique",
    "level",
    "external_mapping",
    "is_filter",
    "path",
    "id",
    "auth",
    "resultKey",
    "other_filters",
    "hint",
    "chwr",
    "",
    "x y",
    "\u{FEFF}",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "name",
    "regex",
    "phone",
    "select_one",
    "select_multiple",
    "generated",
    "dob",
    "none",
    "string",
    "all",
    "parent",
    "KE",
    "ke",
    "XX",
    "(",
    "[",
    "\\",
    "^\\d{6}$",
    "(?=a)",
    "\\1",
    "{{ contact.name }}",
    "{{ x }}",
    "{% for i in (1..3) %}{{ i }}{% endfor %}",
    "{{",
    "{%",
    "https://a.b",
    "a.b",
    "data:image/png;base64,AA",
    "token",
    "basic",
    "\u{0}",
    "é",
    "😀",
    "\\uD83D",
    "{{ contact.name | date: \"%Y\" }}",
    "{{ contact | size | plus: 1 }}",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let choice = if depth == 0 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match choice {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => match rng.below(4) {
            0 => json!(rng.below(10)),
            1 => json!(-(rng.below(10) as i64)),
            2 => json!(1.5),
            _ => json!(u64::MAX),
        },
        3 | 4 => Value::String((*rng.pick(STRINGS)).to_owned()),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(6) {
                map.insert((*rng.pick(KEYS)).to_owned(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// Replaces one randomly chosen node of `doc` with `replacement`.
fn replace_random_node(rng: &mut Rng, doc: &mut Value, replacement: Value) {
    let mut pointer = String::new();
    let mut node = &*doc;
    loop {
        if rng.below(4) == 0 {
            break;
        }
        match node {
            Value::Object(map) if !map.is_empty() => {
                let (key, child) = map.iter().nth(rng.below(map.len())).unwrap();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                node = child;
            }
            Value::Array(items) if !items.is_empty() => {
                let index = rng.below(items.len());
                pointer.push_str(&format!("/{index}"));
                node = &items[index];
            }
            _ => break,
        }
    }
    *doc.pointer_mut(&pointer).unwrap() = replacement;
}

/// Whatever `check` accepts must survive its own round trip.
fn check_and_round_trip(bytes: &[u8]) {
    if let Ok(config) = check(bytes) {
        let again: DeploymentConfig = check(config.to_json().as_bytes())
            .unwrap_or_else(|p| panic!("to_json of an accepted config was refused: {p:?}"));
        assert_eq!(again, config);
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2_000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check_and_round_trip(&bytes);
    }
}

#[test]
fn truncated_and_corrupted_real_files() {
    let mut rng = Rng(7);
    for source in [KENYA, UGANDA] {
        for cut in (0..source.len()).step_by(97) {
            assert!(check(&source[..cut]).is_err());
        }
        for _ in 0..60 {
            let mut bytes = source.to_vec();
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
            check_and_round_trip(&bytes);
        }
    }
}

#[test]
fn random_json_shapes() {
    let mut rng = Rng(42);
    for _ in 0..3_000 {
        let doc = random_value(&mut rng, 5);
        check_and_round_trip(&serde_json::to_vec(&doc).unwrap());
    }
}

#[test]
fn real_configs_with_random_parts_replaced() {
    let mut rng = Rng(2024);
    let originals: Vec<Value> = [KENYA, UGANDA]
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    let mut accepted = 0;
    for i in 0..200 {
        let mut doc = originals[i % 2].clone();
        for _ in 0..=rng.below(3) {
            let replacement = random_value(&mut rng, 3);
            replace_random_node(&mut rng, &mut doc, replacement);
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        if check(&bytes).is_ok() {
            accepted += 1;
        }
        check_and_round_trip(&bytes);
    }
    // Some edits only touch unknown members or optional text; most break a rule.
    assert!(accepted > 0 && accepted < 200, "accepted {accepted} of 200");
}

#[test]
fn huge_and_odd_values_do_not_hurt() {
    let mut doc = common::base();
    common::set(
        &mut doc,
        "/contact_types/0/place_properties/0/friendly_name",
        json!("x".repeat(100_000)),
    );
    common::set(
        &mut doc,
        "/contact_types/0/hierarchy/0/level",
        json!(u64::MAX),
    );
    common::set(
        &mut doc,
        "/contact_types/0/contact_properties/0/parameter",
        json!(["a{1000}{1000}"]),
    );
    let found = check(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert!(found.iter().any(|p| p.path.ends_with("level")));
    assert!(found.iter().any(|p| p.reason.contains("too large")));
    let many_keys: Map<String, Value> = (0..50_000).map(|i| (format!("k{i}"), json!(i))).collect();
    common::set(&mut doc, "/theme", Value::Object(many_keys));
    assert!(check(&serde_json::to_vec(&doc).unwrap()).is_err());
}
