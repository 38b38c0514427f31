//! Legacy `POST /api/v1/places`, `POST /api/v1/places/{id}` and `POST /api/v1/people`, plus the
//! get-or-create logic that v1 user creation shares with them.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::server::{ReqCtx, Sim, ok_json};
use crate::store::{RevCheck, Store};
use crate::util::{lineage_of, random_id, str_field, truthy, type_id};

type Result<T> = std::result::Result<T, ApiError>;

fn conflict() -> ApiError {
    ApiError::status(409, "Document update conflict.")
}

/// `reported_date`: `YYYY-MM-DDTHH:mm:ss[.SSS]Z` or epoch milliseconds.
pub fn parse_reported_date(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?;
    let b = s.as_bytes();
    let ok_shape = (b.len() == 20 || (b.len() == 24 && b[19] == b'.'))
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    if !ok_shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = if b.len() == 24 { num(20..23)? } else { 0 };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // days from civil (Howard Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms).ok()
}

/// Resolves a `place` / `parent` reference: an existing id, or a new object to create.
pub fn get_or_create_place(store: &mut Store, reference: &Value, now: u64) -> Result<Arc<Value>> {
    match reference {
        Value::String(id) => store
            .medic
            .live(id)
            .filter(|d| store.settings.is_place(d))
            .cloned()
            .ok_or_else(|| ApiError::not_found("Failed to find place.")),
        Value::Object(o) if o.contains_key("_rev") => {
            let id = o.get("_id").cloned().unwrap_or(Value::Null);
            get_or_create_place(store, &id, now)
        }
        Value::Object(o) => create_place(store, o, now).map(|c| c.doc),
        _ => Err(ApiError::not_found("Failed to find place.")),
    }
}

pub struct CreatedPlace {
    pub doc: Arc<Value>,
    /// `(id, created)` of the primary contact given with the place.
    pub contact: Option<(String, bool)>,
}

/// `places.createPlace`: validate, create parents recursively, save, then attach the contact.
pub fn create_place(
    store: &mut Store,
    input: &Map<String, Value>,
    now: u64,
) -> Result<CreatedPlace> {
    let label = input
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let doc_value = Value::Object(input.clone());
    let type_name = type_id(&doc_value).unwrap_or("").to_string();
    if !store.settings.is_place_type(&type_name) {
        return Err(ApiError::bad_request(format!(
            "Wrong type, object {label} is not a place."
        )));
    }
    let Some(name) = input.get("name") else {
        return Err(ApiError::bad_request(format!(
            "Place {label} is missing a \"name\" property."
        )));
    };
    let reported_date = match input.get("reported_date") {
        None => now,
        Some(v) => parse_reported_date(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Reported date on place {label} is invalid: {}",
                display(v)
            ))
        })?,
    };
    if !name.is_string() {
        return Err(ApiError::bad_request(format!(
            "Property \"name\" on place {label} must be a string."
        )));
    }
    let allowed = store.settings.parents_of(&type_name);
    let parent_ref = input.get("parent").filter(|p| truthy(p));
    if !allowed.is_empty() && parent_ref.is_none() {
        return Err(ApiError::bad_request(format!(
            "Place {label} is missing a \"parent\" property."
        )));
    }
    if let Some(c) = input.get("contact")
        && !(c.is_string() || c.is_object())
    {
        return Err(ApiError::bad_request(format!(
            "Property \"contact\" on place {label} must be an object or string."
        )));
    }
    let id = if label.is_empty() {
        random_id()
    } else {
        label.clone()
    };
    if store.medic.live(&id).is_some() {
        return Err(conflict());
    }
    let mut body = input.clone();
    body.remove("contact");
    body.remove("_rev");
    body.insert("reported_date".into(), Value::from(reported_date));
    if let Some(parent_ref) = parent_ref {
        let parent = get_or_create_place(store, parent_ref, now)?;
        let parent_type = type_id(&parent).unwrap_or("");
        if !allowed.iter().any(|a| a == parent_type) {
            return Err(ApiError::bad_request(format!(
                "{type_name} \"{label}\" should have one of the following parent types: \"{}\".",
                allowed.join(",")
            )));
        }
        body.insert("parent".into(), lineage_of(&parent));
    }
    store
        .put_medic(&id, body.clone(), RevCheck::Couch(None))
        .map_err(|_| conflict())?;
    let mut contact = None;
    if let Some(c) = input.get("contact").filter(|c| truthy(c)) {
        let place_doc = store.medic.live(&id).cloned().unwrap_or_default();
        let (stored, cid, created) = match c {
            Value::String(cid) => {
                store
                    .medic
                    .live(cid)
                    .filter(|d| store.settings.is_person(d))
                    .ok_or_else(|| ApiError::not_found("Failed to find person."))?;
                (Value::String(cid.clone()), cid.clone(), false)
            }
            Value::Object(o) => {
                let person = create_person_doc(store, o, Some(lineage_of(&place_doc)), now)?;
                (
                    lineage_of(&person),
                    str_field(&person, "_id").unwrap_or("").to_string(),
                    true,
                )
            }
            _ => unreachable!("validated above"),
        };
        let mut updated = place_doc.as_object().cloned().unwrap_or_default();
        updated.insert("contact".into(), stored);
        store
            .put_medic(&id, updated, RevCheck::Ignore)
            .map_err(|_| conflict())?;
        contact = Some((cid, created));
    }
    Ok(CreatedPlace {
        doc: store.medic.live(&id).cloned().unwrap_or_default(),
        contact,
    })
}

fn display(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), String::from)
}

/// `people.createPerson`; `parent` overrides a `place` reference in the input.
pub fn create_person_doc(
    store: &mut Store,
    input: &Map<String, Value>,
    parent: Option<Value>,
    now: u64,
) -> Result<Arc<Value>> {
    let mut body = input.clone();
    if !body.contains_key("type")
        && let Some(t) = store.settings.default_person_type()
    {
        body.insert("type".into(), Value::String(t.into()));
    }
    if !store.settings.is_person(&Value::Object(body.clone())) {
        return Err(ApiError::bad_request("Wrong type, this is not a person."));
    }
    let Some(name) = body.get("name") else {
        return Err(ApiError::bad_request(
            "Person is missing a \"name\" property.",
        ));
    };
    if !name.is_string() {
        return Err(ApiError::bad_request("Property \"name\" must be a string."));
    }
    let reported_date = match body.get("reported_date") {
        None => now,
        Some(v) => parse_reported_date(v).ok_or_else(|| {
            ApiError::bad_request(format!("Reported date is invalid: {}", display(v)))
        })?,
    };
    body.insert("reported_date".into(), Value::from(reported_date));
    let place = body.remove("place");
    match (parent, place.filter(truthy)) {
        (Some(p), _) => {
            body.insert("parent".into(), p);
        }
        (None, Some(place)) => {
            let place_doc = get_or_create_place(store, &place, now)?;
            body.insert("parent".into(), lineage_of(&place_doc));
        }
        (None, None) => {}
    }
    body.remove("_rev");
    let id = body
        .get("_id")
        .and_then(Value::as_str)
        .map_or_else(random_id, String::from);
    store
        .put_medic(&id, body, RevCheck::Couch(None))
        .map_err(|_| conflict())?;
    Ok(store.medic.live(&id).cloned().unwrap_or_default())
}

fn object_body(ctx: &ReqCtx) -> Result<Map<String, Value>> {
    match ctx.json_body()? {
        Value::Object(o) if !o.is_empty() => Ok(o),
        _ => Err(ApiError::empty_body()),
    }
}

/// `POST /api/v1/places` (`can_edit` + `can_create_places`).
pub async fn create(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let raw = ctx.json_body()?;
    sim.require(&ctx, &["can_edit", "can_create_places"])?;
    let Value::Object(input) = raw.clone() else {
        return Err(ApiError::empty_body());
    };
    if input.is_empty() {
        return Err(ApiError::empty_body());
    }
    let now = sim.now_ms();
    let created = create_place(&mut sim.write(), &input, now)?;
    let id = str_field(&created.doc, "_id").unwrap_or("");
    let rev = str_field(&created.doc, "_rev").unwrap_or("");
    let body = match created.contact {
        None => json!({"ok": true, "id": id, "rev": rev}),
        Some((cid, false)) => json!({"ok": true, "id": id, "rev": rev, "contact": {"id": cid}}),
        Some((cid, true)) => json!({"id": id, "rev": rev, "contact": {"id": cid}}),
    };
    Ok(ok_json(&body))
}

/// `POST /api/v1/places/{id}` (`can_edit` + `can_update_places`): edits name, parent, contact,
/// place_id only; a parent change does not cascade to descendants.
pub async fn update(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(id): Path<String>,
) -> Result<Response> {
    let input = object_body(&ctx)?;
    sim.require(&ctx, &["can_edit", "can_update_places"])?;
    const FIELDS: [&str; 4] = ["name", "parent", "contact", "place_id"];
    if !FIELDS.iter().any(|f| input.contains_key(*f)) {
        return Err(ApiError::bad_request(
            "One of the following fields are required: name, parent, contact, place_id",
        ));
    }
    let now = sim.now_ms();
    let mut store = sim.write();
    let place = store
        .medic
        .live(&id)
        .filter(|d| store.settings.is_place(d))
        .cloned()
        .ok_or_else(|| ApiError::not_found("Failed to find place."))?;
    let mut body = place.as_object().cloned().unwrap_or_default();
    if let Some(name) = input.get("name") {
        if !name.is_string() {
            return Err(ApiError::bad_request(format!(
                "Property \"name\" on place {id} must be a string."
            )));
        }
        body.insert("name".into(), name.clone());
    }
    if let Some(pid) = input.get("place_id") {
        body.insert("place_id".into(), pid.clone());
    }
    if let Some(parent) = input.get("parent").filter(|p| truthy(p)) {
        let parent_doc = get_or_create_place(&mut store, parent, now)?;
        body.insert("parent".into(), lineage_of(&parent_doc));
    }
    if let Some(c) = input.get("contact").filter(|c| truthy(c)) {
        let person = match c {
            Value::String(cid) => store
                .medic
                .live(cid)
                .filter(|d| store.settings.is_person(d))
                .cloned()
                .ok_or_else(|| ApiError::not_found("Failed to find person."))?,
            Value::Object(o) => create_person_doc(&mut store, o, Some(lineage_of(&place)), now)?,
            _ => return Err(ApiError::bad_request("Wrong type, this is not a person.")),
        };
        body.insert("contact".into(), lineage_of(&person));
    }
    let rev = store
        .put_medic(&id, body, RevCheck::Ignore)
        .map_err(|_| conflict())?;
    Ok(ok_json(&json!({"id": id, "rev": rev})))
}

/// `POST /api/v1/people` (`can_edit` + `can_create_people`); no hierarchy check for people.
pub async fn create_person(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let raw = ctx.json_body()?;
    sim.require(&ctx, &["can_edit", "can_create_people"])?;
    let input = match raw {
        Value::Object(o) if !o.is_empty() => o,
        Value::Object(_) => return Err(ApiError::empty_body()),
        _ => return Err(ApiError::bad_request("Person must be an object.")),
    };
    let now = sim.now_ms();
    let doc = create_person_doc(&mut sim.write(), &input, None, now)?;
    Ok(ok_json(&json!({
        "ok": true,
        "id": str_field(&doc, "_id"),
        "rev": str_field(&doc, "_rev")
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_date_formats() {
        assert_eq!(
            parse_reported_date(&json!("1970-01-01T00:00:01Z")),
            Some(1000)
        );
        assert_eq!(
            parse_reported_date(&json!("2024-03-01T00:00:00.500Z")),
            Some(1_709_251_200_500)
        );
        assert_eq!(parse_reported_date(&json!(42)), Some(42));
        assert_eq!(parse_reported_date(&json!("yesterday")), None);
    }
}
