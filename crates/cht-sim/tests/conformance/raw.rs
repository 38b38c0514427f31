//! Facts 31–37: settings and the raw CouchDB reads and writes.

use cht_sim::Version;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

fn enc(v: &Value) -> String {
    url_encode(&v.to_string())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn row_ids(r: &Resp) -> Vec<String> {
    r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn fact_31_settings_for_any_authenticated_user() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.chw("lee", &h).await;
    let r = send(t.as_user(Method::GET, "/api/v1/settings", "lee", PW)).await;
    assert_eq!(r.status, 200);
    let s = r.json;
    assert_eq!(s["roles"]["chw"]["offline"], true);
    assert_eq!(s["roles"]["chw_supervisor"]["offline"], true);
    assert!(s["roles"]["program_officer"].get("offline").is_none());
    for p in [
        "can_create_users",
        "can_update_users",
        "can_delete_users",
        "can_view_users",
    ] {
        assert_eq!(s["permissions"][p], json!(["program_officer"]), "{p}");
    }
    assert_eq!(s["permissions"]["can_update_people"], json!([]));
    let types: Vec<&str> = s["contact_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec!["district_hospital", "health_center", "clinic", "person"]
    );
    // PUT merges, for admins
    let r = t
        .put(
            "/api/v1/settings",
            json!({"app_url": "https://cht.example"}),
        )
        .await;
    assert_eq!(r.json, json!({"success": true, "updated": true}));
    assert_eq!(
        t.get("/api/v1/settings").await.json["app_url"],
        "https://cht.example"
    );
}

#[tokio::test]
async fn fact_32_contacts_by_type() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.post(
        "/api/v1/people",
        json!({"name": "Dead Person", "place": h.clinic, "date_of_death": 1, "muted": 2}),
    )
    .await;
    t.put(
        "/medic/chu1",
        json!({"type": "contact", "contact_type": "c_community_health_unit", "name": "Migori CHU"}),
    )
    .await;
    let base = "/medic/_design/medic-client/_view/contacts_by_type";
    let r = t
        .get(&format!(
            "{base}?key={}&reduce=false",
            enc(&json!(["health_center"]))
        ))
        .await;
    assert_eq!(
        r.json["rows"],
        json!([{"id": h.hc, "key": ["health_center"], "value": "false false 1 kisumu hc"}])
    );
    assert_eq!(r.json["total_rows"], 6);
    let r = t
        .get(&format!(
            "{base}?key={}&reduce=false",
            enc(&json!(["c_community_health_unit"]))
        ))
        .await;
    assert_eq!(
        r.json["rows"][0]["value"],
        "false false c_community_health_unit migori chu"
    );
    let r = t
        .get(&format!(
            "{base}?key={}&reduce=false",
            enc(&json!(["person"]))
        ))
        .await;
    let values: Vec<&str> = r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert!(values.contains(&"true true 3 dead person"), "{values:?}");
    // 5.x: a _count reduce, so include_docs needs reduce=false
    let r = t
        .get(&format!(
            "{base}?key={}&include_docs=true",
            enc(&json!(["clinic"]))
        ))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json,
        json!({"error": "query_parse_error", "reason": "`include_docs` is invalid for reduce"})
    );
    let r = t.get(base).await;
    assert_eq!(r.json, json!({"rows": [{"key": null, "value": 6}]}));
    let r = t.get(&format!("{base}?group=true")).await;
    assert_eq!(
        r.json["rows"][0],
        json!({"key": ["c_community_health_unit"], "value": 1})
    );
    let r = t
        .get(&format!(
            "{base}?key={}&include_docs=true&reduce=false",
            enc(&json!(["clinic"]))
        ))
        .await;
    assert_eq!(r.json["rows"][0]["doc"]["name"], "Kondele");
    // 4.x: map-only
    let t4 = T::version(Version(4, 22, 0)).await;
    let h4 = t4.hierarchy().await;
    let r = t4
        .get(&format!(
            "{base}?key={}&include_docs=true",
            enc(&json!(["clinic"]))
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["rows"][0]["doc"]["_id"], json!(h4.clinic));
    let r = t4.get(&format!("{base}?reduce=true")).await;
    assert_eq!(r.json["reason"], "Reduce is invalid for map-only views.");
}

#[tokio::test]
async fn fact_33_contacts_by_depth() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.post(
        &format!("/api/v1/places/{}", h.clinic),
        json!({"contact": h.person}),
    )
    .await;
    let base = "/medic/_design/medic/_view/contacts_by_depth";
    // everything under the health center, any depth: itself, clinic, person
    let r = t.get(&format!("{base}?key={}", enc(&json!([h.hc])))).await;
    let mut expected = vec![h.hc.clone(), h.clinic.clone(), h.person.clone()];
    expected.sort();
    assert_eq!(
        row_ids(&r),
        expected,
        "rows for one key are ordered by doc id"
    );
    // depth range includes depth 0; rows ordered by key then id
    let r = t
        .get(&format!(
            "{base}?startkey={}&endkey={}",
            enc(&json!([h.dh, 0])),
            enc(&json!([h.dh, 20]))
        ))
        .await;
    let keys: Vec<Value> = r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].clone())
        .collect();
    assert_eq!(
        keys,
        vec![
            json!([h.dh, 0]),
            json!([h.dh, 1]),
            json!([h.dh, 2]),
            json!([h.dh, 3])
        ]
    );
    assert_eq!(
        row_ids(&r),
        vec![
            h.dh.clone(),
            h.hc.clone(),
            h.clinic.clone(),
            h.person.clone()
        ]
    );
    // exact depths with keys + include_docs
    let r = t
        .get(&format!(
            "{base}?keys={}&include_docs=true",
            enc(&json!([[h.hc, 0], [h.hc, 1]]))
        ))
        .await;
    assert_eq!(row_ids(&r), vec![h.hc.clone(), h.clinic.clone()]);
    assert_eq!(r.json["rows"][1]["doc"]["name"], "Kondele");
    assert_eq!(
        r.json["rows"][1]["value"],
        json!({"primary_contact": h.person})
    );
    // a doc with three ancestors emits eight rows
    let r = t.get(&format!("{base}?reduce=false")).await;
    let person_rows = r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == json!(h.person))
        .count();
    assert_eq!(person_rows, 8);
    // limit / skip / descending
    let r = t
        .get(&format!(
            "{base}?startkey={}&endkey={}&skip=1&limit=2",
            enc(&json!([h.dh, 0])),
            enc(&json!([h.dh, 20]))
        ))
        .await;
    assert_eq!(row_ids(&r), vec![h.hc.clone(), h.clinic.clone()]);
    let r = t
        .get(&format!(
            "{base}?startkey={}&endkey={}&descending=true&limit=1",
            enc(&json!([h.dh, 20])),
            enc(&json!([h.dh, 0]))
        ))
        .await;
    assert_eq!(row_ids(&r), vec![h.person.clone()]);
    let r = t
        .get(&format!(
            "{base}?startkey={}&endkey={}",
            enc(&json!([h.dh, 20])),
            enc(&json!([h.dh, 0]))
        ))
        .await;
    assert_eq!(r.json["error"], "query_parse_error");
}

#[tokio::test]
async fn fact_34_all_docs_with_keys() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.put("/medic/gone", json!({"type": "x"})).await;
    let rev = t.doc("gone").await["_rev"].as_str().unwrap().to_string();
    let r = t.delete(&format!("/medic/gone?rev={rev}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .post(
            "/medic/_all_docs",
            json!({"keys": ["nope", h.clinic, "gone"], "include_docs": true}),
        )
        .await;
    let rows = r.json["rows"].as_array().unwrap();
    assert_eq!(rows[0], json!({"key": "nope", "error": "not_found"}));
    assert_eq!(rows[1]["id"], json!(h.clinic));
    assert_eq!(rows[1]["key"], json!(h.clinic));
    assert!(rows[1]["value"]["rev"].as_str().unwrap().starts_with("1-"));
    assert_eq!(rows[1]["doc"]["name"], "Kondele");
    assert_eq!(rows[2]["value"]["deleted"], true);
    assert!(rows[2]["value"]["rev"].as_str().unwrap().starts_with("2-"));
    assert_eq!(rows[2]["doc"], Value::Null);
    // GET form
    let r = t
        .get(&format!("/medic/_all_docs?keys={}", enc(&json!([h.dh]))))
        .await;
    assert_eq!(row_ids(&r), vec![h.dh.clone()]);
    assert!(r.json["rows"][0].get("doc").is_none());
}

#[tokio::test]
async fn fact_35_bulk_docs_per_doc_results() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let clinic = t.doc(&h.clinic).await;
    let r = t
        .post(
            "/medic/_bulk_docs",
            json!({"docs": [
                {"_id": "b1", "type": "clinic", "name": "B1"},
                {"_id": h.clinic, "_rev": "1-stale", "name": "x"},
                {"_id": h.clinic, "_rev": clinic["_rev"], "type": "clinic", "name": "Updated"},
                {"type": "person", "name": "No id"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let a = r.json.as_array().unwrap();
    assert_eq!(a[0]["ok"], true);
    assert_eq!(a[0]["id"], "b1");
    assert_eq!(
        a[1],
        json!({"id": h.clinic, "error": "conflict", "reason": "Document update conflict."})
    );
    assert_eq!(a[2]["ok"], true);
    assert_eq!(a[3]["id"].as_str().unwrap().len(), 32);
    assert_eq!(t.doc(&h.clinic).await["name"], "Updated");
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"]}))
        .await;
    let r = send(
        t.as_user(Method::POST, "/medic/_bulk_docs", "nat", PW)
            .json(&json!({"docs": []})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(err_msg(&r), "Insufficient privileges");
}

#[tokio::test]
async fn fact_36_offline_firewall_write_gate_and_couch_format() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.chw("off", &h).await;
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"]}))
        .await;
    for path in [
        "/medic/_design/medic-client/_view/contacts_by_type",
        "/medic/_design/medic/_view/contacts_by_depth",
        "/medic/_find",
    ] {
        let r = send(t.as_user(Method::GET, path, "off", PW)).await;
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(
            r.json,
            json!({"code": 403, "error": "forbidden", "details": "Offline users are not allowed access to this endpoint"}),
            "{path}"
        );
    }
    // online readers pass
    let r = send(t.as_user(
        Method::GET,
        "/medic/_design/medic/_view/contacts_by_depth",
        "nat",
        PW,
    ))
    .await;
    assert_eq!(r.status, 200);
    // raw writes need can_edit
    let r = send(
        t.as_user(Method::PUT, "/medic/x", "nat", PW)
            .json(&json!({"a": 1})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = send(
        t.as_user(Method::PUT, "/medic/x", "off", PW)
            .json(&json!({"a": 1})),
    )
    .await;
    assert_eq!(r.status, 201, "chw holds can_edit");
    // CouchDB's format on raw paths
    let r = t.get("/medic/nothing-here").await;
    assert_eq!(r.json, json!({"error": "not_found", "reason": "missing"}));
    let r = send(t.anon(Method::GET, "/medic/x")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "unauthorized");
    assert!(r.json.get("code").is_none());
    // offline users see only their subtree through _all_docs
    let r = send(
        t.as_user(Method::POST, "/medic/_all_docs", "off", PW)
            .json(&json!({"keys": [h.clinic, h.dh]})),
    )
    .await;
    assert_eq!(r.json["rows"][0]["id"], json!(h.clinic));
    assert_eq!(r.json["rows"][1]["error"], "not_found");
}

#[tokio::test]
async fn fact_37_connected_user_log() {
    let t = T::new().await;
    t.officer("olga").await;
    let r = send(t.as_user(Method::GET, "/_session", "olga", PW)).await;
    assert_eq!(r.status, 200);
    let read = || async {
        t.post(
            "/medic-logs/_all_docs",
            json!({"keys": ["connected-user-olga"], "include_docs": true}),
        )
        .await
        .json["rows"][0]["doc"]
            .clone()
    };
    let first = read().await;
    assert_eq!(first["_id"], "connected-user-olga");
    assert_eq!(first["user"], "olga");
    let ts = first["timestamp"].as_u64().unwrap();
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["_id", "_rev", "timestamp", "user"]);
    // within 30 minutes: not refreshed
    send(
        t.raw(Method::POST, "/__sim/clock")
            .body(r#"{"advance_ms": 1740000}"#),
    )
    .await;
    send(t.as_user(Method::GET, "/_session", "olga", PW)).await;
    assert_eq!(read().await["_rev"], first["_rev"]);
    // after 30 minutes: refreshed
    send(
        t.raw(Method::POST, "/__sim/clock")
            .body(r#"{"advance_ms": 120000}"#),
    )
    .await;
    send(
        t.raw(Method::POST, "/_session")
            .json(&json!({"name": "olga", "password": PW})),
    )
    .await;
    let later = read().await;
    assert_ne!(later["_rev"], first["_rev"]);
    assert!(later["timestamp"].as_u64().unwrap() >= ts + 1_860_000);
    assert_eq!(
        t.get("/medic-logs/connected-user-olga").await.json["user"],
        "olga"
    );
}
