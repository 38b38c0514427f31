//! The user endpoints: create (v1 single/array, v2 JSON/CSV, v3), list/get, update, delete.
//! Validation runs in CHT's order and reports one error at a time.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::auth::{self, password_score, username_valid};
use crate::errors::ApiError;
use crate::places::{create_person_doc, create_place};
use crate::server::{ReqCtx, Sim, ok_json};
use crate::settings::Settings;
use crate::store::{RevCheck, Store, facility_ids};
use crate::util::{ancestor_ids, is_missing, lineage_of, random_id, str_field, truthy};
use crate::version::Version;

type Result<T> = std::result::Result<T, ApiError>;

const SELF_EDITABLE: [&str; 7] = [
    "fullname",
    "email",
    "phone",
    "known",
    "password",
    "token_login",
    "language",
];
const UPDATE_FIELDS: [&str; 13] = [
    "password",
    "known",
    "place",
    "contact",
    "type",
    "roles",
    "oidc_username",
    "fullname",
    "email",
    "phone",
    "external_id",
    "token_login",
    "language",
];

/// Single creates report `fields.required`/token errors as objects; bulk items as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Single,
    Bulk,
}

fn user_id(name: &str) -> String {
    format!("org.couchdb.user:{name}")
}

/// `roles`, else the deprecated `type` through CHT's legacy table, else `[type]`.
fn roles_of(input: &Map<String, Value>) -> Vec<String> {
    if let Some(Value::Array(r)) = input.get("roles")
        && !r.is_empty()
    {
        return r
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
    }
    let Some(t) = input
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return Vec::new();
    };
    let mapped: &[&str] = match t {
        "district-manager" => &[
            "district-manager",
            "kujua_user",
            "data_entry",
            "district_admin",
        ],
        "facility-manager" => &["facility-manager", "kujua_user", "data_entry"],
        "national-manager" => &[
            "national-manager",
            "kujua_user",
            "data_entry",
            "national_admin",
        ],
        "data-entry" => &["data-entry", "data_entry"],
        "analytics" => &["analytics", "kujua_analytics"],
        "gateway" => &["gateway", "kujua_gateway"],
        other => return vec![other.to_string()],
    };
    mapped.iter().map(|s| s.to_string()).collect()
}

fn token_login_requested(input: &Map<String, Value>, settings: &Settings) -> bool {
    input.get("token_login") == Some(&Value::Bool(true)) && settings.token_login_enabled()
}

fn missing_fields(input: &Map<String, Value>, settings: &Settings) -> Vec<&'static str> {
    let mut required = vec!["username"];
    if token_login_requested(input, settings) {
        required.push("phone");
    } else if !input.get("oidc_username").is_some_and(truthy) {
        required.push("password");
    }
    let roles = roles_of(input);
    let mut missing: Vec<&'static str> = required
        .into_iter()
        .filter(|f| is_missing(input.get(*f)))
        .collect();
    if roles.is_empty() {
        missing.push("type or roles");
    } else if settings.is_offline(&roles) {
        missing.extend(
            ["place", "contact"]
                .into_iter()
                .filter(|f| is_missing(input.get(*f))),
        );
    }
    missing
}

fn maybe_translated(mode: Mode, msg: String, key: &str, params: Option<Value>) -> ApiError {
    match mode {
        Mode::Single => ApiError::translated(msg, key, params),
        Mode::Bulk => ApiError::bad_request(msg),
    }
}

pub fn validate_password(p: &str) -> Result<()> {
    if p.chars().count() < 8 {
        return Err(ApiError::translated(
            "The password must be at least 8 characters long.",
            "password.length.minimum",
            Some(json!({"minimum": 8})),
        ));
    }
    if password_score(p) < 50 {
        return Err(ApiError::translated(
            "The password is too easy to guess. Include a range of types of characters to increase the score.",
            "password.weak",
            None,
        ));
    }
    Ok(())
}

/// Digits with an optional leading `+`; a leading 0 takes the configured country code.
fn normalise_phone(raw: &str, settings: &Settings) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !" -().".contains(*c)).collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(d) => (true, d.to_string()),
        None => (false, compact.clone()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = if plus {
        digits
    } else {
        let cc = settings.raw.get("default_country_code").map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })?;
        format!("{cc}{}", digits.trim_start_matches('0'))
    };
    (8..=15).contains(&full.len()).then(|| format!("+{full}"))
}

fn sso_checks(store: &Store, input: &Map<String, Value>, own_id: Option<&str>) -> Result<()> {
    let Some(oidc) = input.get("oidc_username").filter(|v| truthy(v)) else {
        return Ok(());
    };
    if input.get("password").is_some_and(truthy)
        || input.get("token_login") == Some(&Value::Bool(true))
    {
        return Err(ApiError::bad_request(
            "Cannot set password or token_login with oidc_username.",
        ));
    }
    if !store.settings.oidc_enabled() {
        return Err(ApiError::bad_request(
            "Cannot set oidc_username when OIDC Login is not enabled.",
        ));
    }
    let oidc = oidc.as_str().unwrap_or("");
    if let Some(holder) = store.user_index.by_oidc.get(oidc)
        && Some(holder.as_str()) != own_id
    {
        return Err(ApiError::translated(
            format!("The oidc_username [{oidc}] already exists for user [{holder}]."),
            "user.sso.username.duplicate",
            None,
        ));
    }
    Ok(())
}

/// Steps 1–6 shared by v1 and v3: missing → token phone → SSO → password → username.
fn validate_new_user(
    store: &Store,
    input: &Map<String, Value>,
    mode: Mode,
    version: Version,
) -> Result<Option<String>> {
    let settings = &store.settings;
    let missing = missing_fields(input, settings);
    if !missing.is_empty() {
        let fields = missing.join(", ");
        return Err(maybe_translated(
            mode,
            format!("Missing required fields: {fields}"),
            "fields.required",
            Some(json!({"fields": fields})),
        ));
    }
    let mut phone = None;
    if token_login_requested(input, settings) {
        if version >= Version::V5_0 && settings.app_url().is_none() {
            return Err(ApiError::bad_request(
                "app_url configuration is required for token login",
            ));
        }
        let raw = str_field(&Value::Object(input.clone()), "phone")
            .unwrap_or("")
            .to_string();
        phone = Some(normalise_phone(&raw, settings).ok_or_else(|| {
            maybe_translated(
                mode,
                "A valid phone number is required for SMS login.".into(),
                "configuration.enable.token.login.phone",
                None,
            )
        })?);
    }
    sso_checks(store, input, None)?;
    if phone.is_none() && !input.get("oidc_username").is_some_and(truthy) {
        validate_password(input.get("password").and_then(Value::as_str).unwrap_or(""))?;
    }
    let username = input.get("username").and_then(Value::as_str).unwrap_or("");
    if !username_valid(username) {
        return Err(ApiError::translated(
            "Invalid user name. Valid characters are lower case letters, numbers, underscore (_), and hyphen (-).",
            "username.invalid",
            None,
        ));
    }
    let id = user_id(username);
    // `_users` first, then the medic user-settings doc, which survives deletion.
    if store.users.live(&id).is_some() || store.medic.get(&id).is_some_and(|e| !e.deleted) {
        return Err(ApiError::translated(
            format!("Username \"{username}\" already taken."),
            "username.taken",
            Some(json!({"username": username})),
        ));
    }
    Ok(phone)
}

fn rev_ref(id: &str, rev: &str) -> Value {
    json!({"id": id, "rev": rev})
}

struct NewUser<'a> {
    input: &'a Map<String, Value>,
    roles: Vec<String>,
    facility: Option<Vec<String>>,
    contact_id: Option<String>,
    phone: Option<String>,
}

/// Puts `_users` then user-settings; token login adds its doc afterwards. Returns the refs.
fn write_new_user(
    store: &mut Store,
    u: NewUser<'_>,
    now: u64,
) -> Result<(Value, Value, Option<Value>)> {
    let name = u
        .input
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = user_id(&name);
    let settings = store.settings.clone();
    let roles = settings.normalise_roles(&u.roles);
    let facility = u.facility.map_or(Value::Null, |f| json!(f));
    let contact = u.contact_id.map_or(Value::Null, Value::String);
    let oidc = u.input.get("oidc_username").filter(|v| truthy(v)).cloned();
    let token = u.phone.is_some();
    let password = if token || oidc.is_some() {
        random_password()
    } else {
        u.input
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let change_required = !(u.input.get("password_change_required") == Some(&Value::Bool(false))
        || token
        || oidc.is_some()
        || settings.has_permission(&roles, "can_skip_password_change", Version::V5_2));

    let mut user = Map::new();
    user.insert("name".into(), Value::String(name.clone()));
    user.insert("type".into(), Value::String("user".into()));
    user.insert("roles".into(), json!(roles));
    user.insert("facility_id".into(), facility.clone());
    user.insert("contact_id".into(), contact.clone());
    user.insert(
        "password_change_required".into(),
        Value::Bool(change_required),
    );
    let salt = random_id();
    user.extend(auth::password_fields(&salt, &password));
    if let Some(k) = u.input.get("known") {
        user.insert("known".into(), k.clone());
    }
    if let Some(o) = &oidc {
        user.insert("oidc_username".into(), o.clone());
    }

    let mut user_settings = Map::new();
    user_settings.insert("name".into(), Value::String(name.clone()));
    user_settings.insert("type".into(), Value::String("user-settings".into()));
    user_settings.insert("roles".into(), json!(roles));
    user_settings.insert("facility_id".into(), facility);
    user_settings.insert("contact_id".into(), contact);
    for k in [
        "fullname",
        "email",
        "phone",
        "known",
        "external_id",
        "language",
    ] {
        if let Some(v) = u.input.get(k) {
            user_settings.insert(k.into(), v.clone());
        }
    }
    if oidc.is_some() {
        user_settings.insert("oidc_login".into(), Value::Bool(true));
    }
    let mut token_out = None;
    if let Some(phone) = &u.phone {
        let (user_token, settings_token, expiration) = make_token(store, &id, phone, now);
        user.insert("token_login".into(), user_token);
        user_settings.insert("token_login".into(), settings_token);
        user_settings.insert("phone".into(), Value::String(phone.clone()));
        token_out = Some(json!({"expiration_date": expiration}));
    }
    let conflict = || ApiError::status(409, "Document update conflict.");
    let user_rev = store
        .put_user(&id, user, RevCheck::Ignore)
        .map_err(|_| conflict())?;
    let settings_rev = store
        .put_medic(&id, user_settings, RevCheck::Ignore)
        .map_err(|_| conflict())?;
    Ok((
        rev_ref(&id, &user_rev),
        rev_ref(&id, &settings_rev),
        token_out,
    ))
}

/// Server-generated passwords: 20 characters, regenerated until the score passes.
fn random_password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:!$-=";
    loop {
        let p: String = (0..20)
            .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
            .collect();
        if password_score(&p) >= 50 {
            return p;
        }
    }
}

/// Creates the `token:login:<token>` doc with its two SMS tasks.
fn make_token(store: &mut Store, user_id: &str, phone: &str, now: u64) -> (Value, Value, u64) {
    let token = format!("{}{}", random_id(), random_id());
    let expiration = now + 24 * 3600 * 1000;
    let url = format!(
        "{}/medic/login/token/{token}",
        store.settings.app_url().unwrap_or("")
    );
    let task = |message: String| {
        json!({"messages": [{"to": phone, "message": message, "uuid": random_id()}], "state": "pending",
               "state_history": [{"state": "pending", "timestamp": now}]})
    };
    let mut doc = Map::new();
    doc.insert("type".into(), Value::String("token_login".into()));
    doc.insert("user".into(), Value::String(user_id.to_string()));
    doc.insert("reported_date".into(), Value::from(now));
    doc.insert(
        "tasks".into(),
        json!([
            task("Use the following link to log in to the app:".into()),
            task(url)
        ]),
    );
    let _ = store.put_medic(&format!("token:login:{token}"), doc, RevCheck::Ignore);
    (
        json!({"active": true, "token": token, "expiration_date": expiration}),
        json!({"active": true, "expiration_date": expiration}),
        expiration,
    )
}

fn within(contact: &Value, places: &[String]) -> bool {
    ancestor_ids(contact)
        .iter()
        .any(|a| places.iter().any(|p| p == a))
}

/// One v1 create (`createUser`); `mode` picks the error form.
fn create_v1_one(
    store: &mut Store,
    input: &Value,
    mode: Mode,
    version: Version,
    now: u64,
) -> Result<Value> {
    let input = input.as_object().cloned().unwrap_or_default();
    let phone = validate_new_user(store, &input, mode, version)?;
    // 7: place (created inline when an object)
    let mut place: Option<(Arc<Value>, bool)> = None;
    if let Some(p) = input.get("place").filter(|p| truthy(p)) {
        place = Some(match p {
            Value::String(id) => (
                store
                    .medic
                    .live(id)
                    .filter(|d| store.settings.is_place(d))
                    .cloned()
                    .ok_or_else(|| ApiError::not_found("Failed to find place."))?,
                false,
            ),
            Value::Object(o) if !o.contains_key("_rev") => (create_place(store, o, now)?.doc, true),
            _ => {
                return Err(ApiError::bad_request(
                    "Place must be a new object or string identifier (UUID).",
                ));
            }
        });
    }
    let place_id = place
        .as_ref()
        .and_then(|(d, _)| str_field(d, "_id").map(String::from));
    // 8: contact
    let mut contact: Option<(Arc<Value>, bool)> = None;
    if let Some(c) = input.get("contact").filter(|c| truthy(c)) {
        let not_within = || {
            ApiError::translated(
                "Contact is not within place.",
                "configuration.user.place.contact",
                None,
            )
        };
        contact = Some(match c {
            Value::String(id) => {
                let doc = store
                    .medic
                    .live(id)
                    .cloned()
                    .ok_or_else(|| ApiError::not_found("Failed to find person."))?;
                if !store.settings.is_person(&doc) {
                    return Err(ApiError::translated(
                        "Wrong type, contact is not a person.",
                        "contact.type.wrong",
                        None,
                    ));
                }
                if let Some(pid) = &place_id
                    && !within(&doc, std::slice::from_ref(pid))
                {
                    return Err(not_within());
                }
                (doc, false)
            }
            Value::Object(o) => {
                // CHT compares a client-sent `contact.parent` with the hydrated place: never equal.
                if o.get("parent").is_some_and(truthy) {
                    return Err(not_within());
                }
                let parent = place.as_ref().map(|(d, _)| lineage_of(d));
                (create_person_doc(store, o, parent, now)?, true)
            }
            _ => return Err(ApiError::not_found("Failed to find person.")),
        });
    }
    // 9: a place created inline gets the new contact as its primary contact
    if let (Some((p, true)), Some((c, _))) = (&place, &contact) {
        let mut body = p.as_object().cloned().unwrap_or_default();
        body.insert("contact".into(), lineage_of(c));
        let pid = place_id.clone().unwrap_or_default();
        store
            .put_medic(&pid, body, RevCheck::Ignore)
            .map_err(|_| ApiError::status(409, "Document update conflict."))?;
    }
    let contact_ref = contact.as_ref().map(|(c, _)| {
        let id = str_field(c, "_id").unwrap_or("");
        let rev = store
            .medic
            .get(id)
            .map(|e| e.rev.clone())
            .unwrap_or_default();
        rev_ref(id, &rev)
    });
    let (user, settings, token) = write_new_user(
        store,
        NewUser {
            input: &input,
            roles: roles_of(&input),
            facility: place_id.map(|p| vec![p]),
            contact_id: contact
                .as_ref()
                .and_then(|(c, _)| str_field(c, "_id").map(String::from)),
            phone,
        },
        now,
    )?;
    let mut out = json!({"user": user, "user-settings": settings});
    if let Some(c) = contact_ref {
        out["contact"] = c;
    }
    if let Some(t) = token {
        out["token_login"] = t;
    }
    Ok(out)
}

/// Place ids from a v3 `place`: a string, an array of strings, or objects carrying `_id`.
fn facility_list(v: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from),
        _ => None,
    };
    match v {
        Value::Array(a) => a.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// Validates `place` for v3 create and update: ids, multiple-place permission, existence.
fn check_facilities(store: &Store, place: &Value, roles: &[String]) -> Result<Vec<String>> {
    let ids = facility_list(place);
    let field_required =
        |msg: &str| ApiError::translated(msg, "field is required", Some(json!({"field": "Place"})));
    if ids.is_empty() {
        return Err(field_required("Invalid facilities list"));
    }
    if ids.len() > 1
        && !store
            .settings
            .has_permission(roles, "can_have_multiple_places", Version::V5_2)
    {
        return Err(field_required("This user cannot have multiple places"));
    }
    for id in &ids {
        if !store
            .medic
            .live(id)
            .is_some_and(|d| store.settings.is_place(d))
        {
            return Err(ApiError::not_found(format!("Failed to find place {id}")));
        }
    }
    Ok(ids)
}

/// v3 (and update) contact check: an existing person under one of `facilities`.
fn check_contact(
    store: &Store,
    contact: &Value,
    facilities: &[String],
    version: Version,
) -> Result<String> {
    let id = match contact {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    let Some(doc) = store.medic.live(&id) else {
        return Err(if version >= Version::V4_22 {
            ApiError::not_found(format!("Contact not found [{id}]."))
        } else {
            ApiError::not_found("missing")
        });
    };
    if !store.settings.is_person(doc) {
        return Err(ApiError::translated(
            "Wrong type, contact is not a person.",
            "contact.type.wrong",
            None,
        ));
    }
    if !facilities.is_empty() && !within(doc, facilities) {
        return Err(ApiError::translated(
            "Contact is not within place.",
            "configuration.user.place.contact",
            None,
        ));
    }
    Ok(id)
}

fn create_v3_one(store: &mut Store, input: &Value, version: Version, now: u64) -> Result<Value> {
    let input = input.as_object().cloned().unwrap_or_default();
    let phone = validate_new_user(store, &input, Mode::Single, version)?;
    let roles = roles_of(&input);
    let mut facilities = None;
    // JS truthiness: `[]` is truthy, so an empty list reaches the facilities check.
    if let Some(p) = input.get("place").filter(|p| truthy(p)) {
        facilities = Some(check_facilities(store, p, &roles)?);
    }
    let mut contact_id = None;
    if let Some(c) = input.get("contact").filter(|c| truthy(c)) {
        let f = facilities.clone().unwrap_or_default();
        contact_id = Some(check_contact(store, c, &f, version)?);
    }
    let (user, settings, token) = write_new_user(
        store,
        NewUser {
            input: &input,
            roles,
            facility: facilities,
            contact_id,
            phone,
        },
        now,
    )?;
    let mut out = json!({"user": user, "user-settings": settings});
    if let Some(t) = token {
        out["token_login"] = t;
    }
    Ok(out)
}

fn bulk(sim: &Sim, items: &[Value]) -> Value {
    // Sequential and independent: each item takes the lock on its own.
    let results: Vec<Value> = items
        .iter()
        .map(|item| {
            let now = sim.now_ms();
            let mut store = sim.write();
            match create_v1_one(&mut store, item, Mode::Bulk, sim.version(), now) {
                Ok(v) => v,
                Err(e) => json!({"error": e.item_value()}),
            }
        })
        .collect();
    Value::Array(results)
}

/// `POST /api/v1/users`: one object or an array (HTTP 200 with per-item results).
pub async fn create_v1(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let body = ctx.json_body()?;
    sim.require(&ctx, &["can_edit", "can_create_users"])?;
    match body {
        Value::Array(items) => Ok(ok_json(&bulk(&sim, &items))),
        single => {
            let now = sim.now_ms();
            let out = create_v1_one(&mut sim.write(), &single, Mode::Single, sim.version(), now)?;
            Ok(ok_json(&out))
        }
    }
}

/// `POST /api/v2/users`: a JSON array or `text/csv`.
pub async fn create_v2(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let ct = ctx.content_type.as_deref();
    if ct != Some("application/json") && ct != Some("text/csv") {
        return Err(ApiError::bad_request(
            "Content-Type must be application/json or text/csv",
        ));
    }
    let body = if ct == Some("text/csv") {
        None
    } else {
        Some(ctx.parse_json()?)
    };
    sim.require(&ctx, &["can_edit", "can_create_users"])?;
    let items = match body {
        Some(Value::Array(items)) => items,
        Some(single) => {
            let now = sim.now_ms();
            let out = create_v1_one(&mut sim.write(), &single, Mode::Single, sim.version(), now)?;
            return Ok(ok_json(&out));
        }
        None => {
            let text = String::from_utf8_lossy(&ctx.body);
            crate::csv::users_from_csv(&text).map_err(ApiError::bad_request)?
        }
    };
    let started = sim.now_ms();
    let results = bulk(&sim, &items);
    let failed = results
        .as_array()
        .map_or(0, |r| r.iter().filter(|i| i.get("error").is_some()).count());
    let mut log = Map::new();
    log.insert("user".into(), Value::String(ctx.user()?.name.clone()));
    log.insert(
        "bulk_user_upload_id".into(),
        Value::String(format!("bulk-user-upload-{started}")),
    );
    log.insert(
        "progress".into(),
        json!({"status": "finished", "parsing": {"total": items.len(), "failed": 0},
               "saving": {"total": items.len(), "successful": items.len() - failed, "failed": failed}}),
    );
    log.insert("start_date".into(), Value::from(started));
    log.insert("end_date".into(), Value::from(sim.now_ms()));
    sim.write()
        .put_log(&format!("bulk-user-upload-{started}"), log);
    Ok(ok_json(&results))
}

/// `POST /api/v3/users`: existing places (one or many) and an existing contact only.
pub async fn create_v3(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    let body = ctx.json_body()?;
    sim.require(&ctx, &["can_edit", "can_create_users"])?;
    let now = sim.now_ms();
    let out = create_v3_one(&mut sim.write(), &body, sim.version(), now)?;
    Ok(ok_json(&out))
}

/// `mapUser`: undefined keys are omitted; `place` is an array of raw docs or null.
fn map_user(store: &Store, user: &Value, v1: bool) -> Value {
    let name = str_field(user, "name").unwrap_or("");
    let id = user_id(name);
    let settings = store.medic.live(&id);
    let mut out = Map::new();
    out.insert("id".into(), Value::String(id.clone()));
    if let Some(rev) = str_field(user, "_rev") {
        out.insert("rev".into(), Value::String(rev.into()));
    }
    out.insert("username".into(), Value::String(name.into()));
    for k in ["fullname", "email", "phone"] {
        if let Some(v) = settings.and_then(|s| s.get(k)) {
            out.insert(k.into(), v.clone());
        }
    }
    let places: Vec<Value> = facility_ids(user)
        .iter()
        .filter_map(|f| store.medic.live(f).map(|d| (**d).clone()))
        .collect();
    out.insert(
        "place".into(),
        if places.is_empty() {
            Value::Null
        } else {
            Value::Array(places)
        },
    );
    let roles = user.get("roles").cloned().unwrap_or_else(|| json!([]));
    if v1 {
        let t = roles
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        out.insert("type".into(), Value::String(t));
    } else {
        out.insert("roles".into(), roles);
    }
    if let Some(c) = str_field(user, "contact_id").and_then(|c| store.medic.live(c)) {
        out.insert("contact".into(), (**c).clone());
    }
    if let Some(v) = settings.and_then(|s| s.get("external_id")) {
        out.insert("external_id".into(), v.clone());
    }
    if let Some(v) = settings
        .and_then(|s| s.get("known"))
        .or_else(|| user.get("known"))
    {
        out.insert("known".into(), v.clone());
    }
    if let Some(v) = user.get("oidc_username") {
        out.insert("oidc_username".into(), v.clone());
    }
    Value::Object(out)
}

fn list(sim: &Sim, ctx: &ReqCtx, v1: bool) -> Result<Response> {
    sim.require(ctx, &["can_view_users"])?;
    let facility = ctx.query_param("facility_id");
    let contact = ctx.query_param("contact_id");
    let store = sim.read();
    let idx = &store.user_index;
    // The users_by_field view: facility matches any element; both filters are ANDed.
    let ids: Vec<String> = match (&facility, &contact) {
        (None, None) => store
            .users
            .entries()
            .filter(|(id, e)| !e.deleted && id.starts_with("org.couchdb.user:"))
            .map(|(id, _)| id.clone())
            .collect(),
        _ => {
            let by_f = facility
                .as_ref()
                .map(|f| idx.by_facility.get(f).cloned().unwrap_or_default());
            let by_c = contact
                .as_ref()
                .map(|c| idx.by_contact.get(c).cloned().unwrap_or_default());
            match (by_f, by_c) {
                (Some(f), Some(c)) => f.intersection(&c).cloned().collect(),
                (Some(s), None) | (None, Some(s)) => s.into_iter().collect(),
                (None, None) => Vec::new(),
            }
        }
    };
    let users: Vec<Value> = ids
        .iter()
        .filter_map(|id| store.users.live(id))
        .map(|u| map_user(&store, u, v1))
        .collect();
    Ok(ok_json(&Value::Array(users)))
}

pub async fn list_v1(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    list(&sim, &ctx, true)
}

pub async fn list_v2(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
) -> Result<Response> {
    list(&sim, &ctx, false)
}

/// `GET /api/v2/users/{name}`: `can_view_users` or the caller themselves.
pub async fn get_v2(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(name): Path<String>,
) -> Result<Response> {
    let user = ctx.user()?;
    let store = sim.read();
    if user.name != name
        && !store
            .settings
            .has_permission(&user.roles, "can_view_users", sim.version())
    {
        return Err(ApiError::insufficient_privileges());
    }
    let doc = store.users.live(&user_id(&name)).ok_or_else(|| {
        ApiError::not_found(format!(
            "Failed to find user with name [{name}] in the [users] database."
        ))
    })?;
    Ok(ok_json(&map_user(&store, doc, false)))
}

/// `POST /api/v1/users/{name}` ≡ `POST /api/v3/users/{name}`.
pub async fn update(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(name): Path<String>,
) -> Result<Response> {
    let input = match ctx.json_body()? {
        Value::Object(o) if !o.is_empty() => o,
        _ => return Err(ApiError::empty_body()),
    };
    let caller = ctx.user()?;
    let version = sim.version();
    let now = sim.now_ms();
    let mut store = sim.write();
    let full = store
        .settings
        .has_all(&caller.roles, &["can_edit", "can_update_users"], version);
    let is_self = caller.name == name;
    if !full && !is_self {
        return Err(ApiError::status(
            403,
            "You do not have permissions to modify this person",
        ));
    }
    if !full {
        if input.keys().any(|k| !SELF_EDITABLE.contains(&k.as_str())) {
            return Err(ApiError::NotLoggedIn);
        }
        if input.contains_key("password") && !caller.via_basic {
            return Err(ApiError::status(
                403,
                "You must authenticate with Basic Auth to modify your password",
            ));
        }
    }
    let recognised = input.iter().any(|(k, v)| {
        UPDATE_FIELDS.contains(&k.as_str()) && (!v.is_null() || k == "place" || k == "contact")
    });
    if !recognised {
        return Err(ApiError::translated(
            format!(
                "One of the following fields are required: {}",
                UPDATE_FIELDS.join(", ")
            ),
            "fields.one.required",
            None,
        ));
    }
    let id = user_id(&name);
    let existing = store.users.live(&id).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "Failed to find user with name [{name}] in the [users] database."
        ))
    })?;
    let mut user = existing.as_object().cloned().unwrap_or_default();
    let mut settings_doc = store
        .medic
        .live(&id)
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(name.clone()));
            m.insert("type".into(), Value::String("user-settings".into()));
            m
        });
    let password = input
        .get("password")
        .and_then(Value::as_str)
        .map(String::from);
    if let Some(p) = &password {
        validate_password(p)?;
        if name == sim.cfg.admin_user {
            return Err(ApiError::bad_request(
                "Admin passwords must be changed manually in the database",
            ));
        }
    }
    let has_oidc = input.get("oidc_username").is_some_and(truthy)
        || (existing.get("oidc_username").is_some() && !input.contains_key("oidc_username"));
    if input.get("token_login") == Some(&Value::Bool(true)) && has_oidc {
        return Err(ApiError::bad_request(
            "Cannot set token_login with oidc_username.",
        ));
    }
    sso_checks(&store, &input, Some(&id))?;
    if input.get("token_login") == Some(&Value::Bool(false))
        && existing.get("token_login").is_some()
        && password.is_none()
        && !has_oidc
    {
        return Err(ApiError::bad_request(
            "Password is required when disabling token login.",
        ));
    }
    let new_roles = if input.contains_key("roles") || input.contains_key("type") {
        roles_of(&input)
    } else {
        serde_json::from_value(user.get("roles").cloned().unwrap_or_default()).unwrap_or_default()
    };
    let mut facilities = facility_ids(&existing);
    if let Some(p) = input.get("place") {
        if p.is_null() {
            facilities.clear();
            user.insert("facility_id".into(), Value::Null);
            settings_doc.insert("facility_id".into(), Value::Null);
        } else {
            facilities = check_facilities(&store, p, &new_roles)?;
            user.insert("facility_id".into(), json!(facilities));
            settings_doc.insert("facility_id".into(), json!(facilities));
        }
    }
    if let Some(c) = input.get("contact") {
        let cid = if c.is_null() {
            Value::Null
        } else {
            Value::String(check_contact(&store, c, &facilities, version)?)
        };
        user.insert("contact_id".into(), cid.clone());
        settings_doc.insert("contact_id".into(), cid);
    }
    if input.contains_key("roles") || input.contains_key("type") {
        let roles = json!(store.settings.normalise_roles(&new_roles));
        user.insert("roles".into(), roles.clone());
        settings_doc.insert("roles".into(), roles);
    }
    for k in ["fullname", "email", "phone", "external_id", "language"] {
        if let Some(v) = input.get(k) {
            settings_doc.insert(k.into(), v.clone());
        }
    }
    if let Some(k) = input.get("known") {
        user.insert("known".into(), k.clone());
        settings_doc.insert("known".into(), k.clone());
    }
    if let Some(o) = input.get("oidc_username") {
        user.insert("oidc_username".into(), o.clone());
        settings_doc.insert("oidc_login".into(), Value::Bool(truthy(o)));
        if truthy(o) {
            let salt = random_id();
            user.extend(auth::password_fields(&salt, &random_password()));
            user.insert("password_change_required".into(), Value::Bool(false));
        }
    }
    if let Some(p) = &password {
        let salt = random_id();
        user.extend(auth::password_fields(&salt, p));
        let change_required = full
            && !(input.get("password_change_required") == Some(&Value::Bool(false))
                || store
                    .settings
                    .has_permission(&new_roles, "can_skip_password_change", version));
        user.insert(
            "password_change_required".into(),
            Value::Bool(change_required),
        );
    }
    if input.get("token_login") == Some(&Value::Bool(false)) {
        user.remove("token_login");
        settings_doc.remove("token_login");
    } else if input.get("token_login") == Some(&Value::Bool(true))
        && store.settings.token_login_enabled()
    {
        if version >= Version::V5_0 && store.settings.app_url().is_none() {
            return Err(ApiError::bad_request(
                "app_url configuration is required for token login",
            ));
        }
        let raw_phone = input
            .get("phone")
            .or_else(|| settings_doc.get("phone"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let phone = normalise_phone(&raw_phone, &store.settings).ok_or_else(|| {
            ApiError::translated(
                "A valid phone number is required for SMS login.",
                "configuration.enable.token.login.phone",
                None,
            )
        })?;
        let (ut, st, _) = make_token(&mut store, &id, &phone, now);
        let salt = random_id();
        user.extend(auth::password_fields(&salt, &random_password()));
        user.insert("token_login".into(), ut);
        settings_doc.insert("token_login".into(), st);
        settings_doc.insert("phone".into(), Value::String(phone));
    }
    let conflict = || ApiError::status(409, "Document update conflict.");
    let user_rev = store
        .put_user(&id, user, RevCheck::Ignore)
        .map_err(|_| conflict())?;
    let settings_rev = store
        .put_medic(&id, settings_doc, RevCheck::Ignore)
        .map_err(|_| conflict())?;
    Ok(ok_json(&json!({
        "user": rev_ref(&id, &user_rev),
        "user-settings": rev_ref(&id, &settings_rev)
    })))
}

/// `DELETE /api/v1/users/{name}`: tombstones `_users`, keeps user-settings as inactive.
pub async fn delete(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Arc<ReqCtx>>,
    Path(name): Path<String>,
) -> Result<Response> {
    sim.require(&ctx, &["can_edit", "can_delete_users"])?;
    let id = user_id(&name);
    let now = sim.now_ms();
    let mut store = sim.write();
    match store.users.get(&id) {
        None => return Err(ApiError::not_found("missing")),
        Some(e) if e.deleted => return Err(ApiError::not_found("deleted")),
        Some(_) => {}
    }
    let mut results = Vec::new();
    if let Some(rev) = store.delete_user(&id) {
        results.push(json!({"ok": true, "id": id, "rev": rev}));
    }
    if let Some(settings) = store.medic.live(&id).and_then(|d| d.as_object().cloned()) {
        let mut settings = settings;
        settings.insert("inactive".into(), Value::Bool(true));
        settings.insert("deletion_date".into(), Value::from(now));
        if let Ok(rev) = store.put_medic(&id, settings, RevCheck::Ignore) {
            results.push(json!({"ok": true, "id": id, "rev": rev}));
        }
    }
    Ok(ok_json(&Value::Array(results)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::default_settings;

    #[test]
    fn missing_fields_order_and_offline_rules() {
        let s = Settings::new(default_settings());
        let m = |v: Value| missing_fields(v.as_object().unwrap(), &s);
        assert_eq!(m(json!({})), vec!["username", "password", "type or roles"]);
        assert_eq!(
            m(json!({"username": "a", "password": "x", "roles": ["chw"], "place": [""]})),
            vec!["place", "contact"]
        );
        assert_eq!(
            m(json!({"username": "a", "password": "x", "roles": ["national_admin"]})),
            Vec::<&str>::new()
        );
        assert_eq!(
            m(json!({"username": "a", "oidc_username": "o", "roles": ["national_admin"]})),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn legacy_type_maps_to_roles() {
        let m = json!({"type": "district-manager"});
        assert_eq!(roles_of(m.as_object().unwrap())[3], "district_admin");
        let m = json!({"type": "chw"});
        assert_eq!(roles_of(m.as_object().unwrap()), vec!["chw"]);
    }

    #[test]
    fn phone_normalisation() {
        let s = Settings::new(default_settings());
        assert_eq!(
            normalise_phone("0712 345 678", &s).as_deref(),
            Some("+254712345678")
        );
        assert_eq!(
            normalise_phone("+254712345678", &s).as_deref(),
            Some("+254712345678")
        );
        assert_eq!(normalise_phone("call me", &s), None);
    }
}
