//! Facts 26–30: places, people, lineages and conflicts.

use cht_sim::Version;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn fact_26_legacy_place_create() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    // contact as id: stored as a bare string, response has ok + contact
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "C1", "type": "clinic", "parent": h.hc, "contact": h.person}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["ok"], true);
    assert_eq!(r.json["contact"], json!({"id": h.person}));
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(t.doc(&id).await["contact"], json!(h.person));
    // new contact: no ok, stored as a lineage
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "C2", "type": "clinic", "parent": h.hc, "contact": {"name": "Kamau"}}),
        )
        .await;
    assert!(r.json.get("ok").is_none(), "{}", r.text);
    let cid = r.json["contact"]["id"].as_str().unwrap().to_string();
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        t.doc(&id).await["contact"],
        json!({"_id": cid, "parent": {"_id": id, "parent": {"_id": h.hc, "parent": {"_id": h.dh}}}})
    );
    // no contact
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "D", "type": "district_hospital"}),
        )
        .await;
    assert_eq!(
        r.json
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["id", "ok", "rev"]
    );
    // nested new parents
    let r = t.post("/api/v1/places", json!({"name": "N", "type": "clinic", "parent": {"name": "NH", "type": "health_center", "parent": {"name": "ND", "type": "district_hospital"}}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let nested = t.doc(r.json["id"].as_str().unwrap()).await;
    assert!(nested["parent"]["parent"]["_id"].is_string());
    // errors
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "X", "type": "clinic", "parent": h.dh}),
        )
        .await;
    assert_eq!(
        err_msg(&r),
        "clinic \"\" should have one of the following parent types: \"health_center\"."
    );
    let r = t
        .post("/api/v1/places", json!({"name": "X", "type": "clinic"}))
        .await;
    assert_eq!(err_msg(&r), "Place  is missing a \"parent\" property.");
    let r = t
        .post("/api/v1/places", json!({"name": "X", "type": "person"}))
        .await;
    assert_eq!(err_msg(&r), "Wrong type, object  is not a place.");
    let r = t
        .post("/api/v1/places", json!({"type": "district_hospital"}))
        .await;
    assert_eq!(err_msg(&r), "Place  is missing a \"name\" property.");
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "X", "type": "clinic", "parent": "nope"}),
        )
        .await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find place.".to_string())
    );
    let r = t
        .post(
            "/api/v1/places",
            json!({"name": "X", "type": "district_hospital", "contact": "nope"}),
        )
        .await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find person.".to_string())
    );
    let r = t.post("/api/v1/places", json!({"name": "X", "type": "district_hospital", "contact": {"name": "P", "type": "clinic"}})).await;
    assert_eq!(err_msg(&r), "Wrong type, this is not a person.");
    // permission: national_admin lacks can_edit
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"]}))
        .await;
    let r = send(
        t.as_user(Method::POST, "/api/v1/places", "nat", PW)
            .json(&json!({"name": "D", "type": "district_hospital"})),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn fact_27_legacy_place_update_does_not_cascade() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let hc2 = t
        .place(json!({"name": "HC2", "type": "health_center", "parent": h.dh}))
        .await;
    let r = t
        .post(
            &format!("/api/v1/places/{}", h.clinic),
            json!({"parent": hc2, "name": "Renamed", "notes": "ignored"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["id", "rev"]
    );
    let clinic = t.doc(&h.clinic).await;
    assert_eq!(clinic["name"], "Renamed");
    assert_eq!(
        clinic["parent"],
        json!({"_id": hc2, "parent": {"_id": h.dh}})
    );
    assert!(clinic.get("notes").is_none());
    // the person under the clinic keeps its old lineage
    assert_eq!(
        t.doc(&h.person).await["parent"]["parent"]["_id"],
        json!(h.hc)
    );
    let r = t
        .post(
            &format!("/api/v1/places/{}", h.clinic),
            json!({"notes": "x"}),
        )
        .await;
    assert_eq!(
        err_msg(&r),
        "One of the following fields are required: name, parent, contact, place_id"
    );
    let r = t
        .post(&format!("/api/v1/places/{}", h.clinic), json!({}))
        .await;
    assert_eq!(
        err_msg(&r),
        "Request body is empty or Content-Type header was not set to application/json."
    );
}

#[tokio::test]
async fn fact_28_legacy_people_create() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let r = t
        .post(
            "/api/v1/people",
            json!({"name": "Wanjiru", "place": h.clinic, "phone": "+254711000000"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["ok"], true);
    let p = t.doc(r.json["id"].as_str().unwrap()).await;
    assert_eq!(p["type"], "person");
    assert_eq!(
        p["parent"],
        json!({"_id": h.clinic, "parent": {"_id": h.hc, "parent": {"_id": h.dh}}})
    );
    assert!(p.get("place").is_none());
    let r = t.post("/api/v1/people", json!({"place": h.clinic})).await;
    assert_eq!(err_msg(&r), "Person is missing a \"name\" property.");
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"]}))
        .await;
    let r = send(
        t.as_user(Method::POST, "/api/v1/people", "nat", PW)
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn fact_29_minified_lineages_and_both_type_forms() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    // 5.2 writer: type "contact" + contact_type, parent minified
    let r = t
        .post(
            "/api/v1/place",
            json!({"type": "clinic", "name": "New style", "parent": h.hc}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["type"], "contact");
    assert_eq!(r.json["contact_type"], "clinic");
    assert_eq!(
        r.json["parent"],
        json!({"_id": h.hc, "parent": {"_id": h.dh}})
    );
    let new_id = r.json["_id"].as_str().unwrap().to_string();
    // legacy writers keep the client's type
    assert_eq!(t.doc(&h.clinic).await["type"], "clinic");
    // readers see both forms in the same view key
    let r = t.get("/medic/_design/medic-client/_view/contacts_by_type?key=%5B%22clinic%22%5D&reduce=false").await;
    let ids: Vec<&str> = r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&new_id.as_str()) && ids.contains(&h.clinic.as_str()),
        "{ids:?}"
    );
    // the cht-datasource reader too
    let r = t
        .get(&format!("/api/v1/place/{new_id}?with_lineage=true"))
        .await;
    assert_eq!(r.json["parent"]["name"], "Kisumu HC");
    assert_eq!(r.json["parent"]["parent"]["name"], "Kisumu District");
    let r = t.get("/api/v1/place?type=clinic&limit=1").await;
    assert_eq!(r.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["cursor"], "1");
    // 5.2 validation strings
    let r = t
        .post("/api/v1/place", json!({"type": "person", "name": "p"}))
        .await;
    assert_eq!(
        r.json,
        json!({"code": 400, "error": "[person] is not a valid place type."})
    );
    let r = t
        .post(
            "/api/v1/place",
            json!({"type": "clinic", "name": "p", "parent": "invalid-id"}),
        )
        .await;
    assert_eq!(err_msg(&r), "Parent contact [invalid-id] not found.");
    let r = t
        .post(
            "/api/v1/place",
            json!({"type": "health_center", "name": "p", "parent": h.hc}),
        )
        .await;
    assert_eq!(
        err_msg(&r),
        "Parent contact of type [health_center] is not allowed for type [health_center]."
    );
    let r = t
        .post(
            "/api/v1/place",
            json!({"type": "district_hospital", "name": "p", "contact": "nobody"}),
        )
        .await;
    assert_eq!(err_msg(&r), "Primary contact [nobody] not found.");
    // 4.22 has no 5.2 writers: the path falls through to CouchDB
    let t4 = T::version(Version(4, 22, 0)).await;
    let r = t4
        .post(
            "/api/v1/place",
            json!({"type": "district_hospital", "name": "p"}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn fact_30_rev_conflicts_by_endpoint() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    // raw PUT with a stale _rev: CouchDB's 409
    let mut doc = t.doc(&h.clinic).await;
    let stale = doc["_rev"].clone();
    doc["name"] = json!("v2");
    assert_eq!(
        t.put(&format!("/medic/{}", h.clinic), doc.clone())
            .await
            .status,
        201
    );
    let r = t.put(&format!("/medic/{}", h.clinic), doc.clone()).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json,
        json!({"error": "conflict", "reason": "Document update conflict."})
    );
    // legacy endpoints ignore the client's _rev
    let r = t
        .post(
            &format!("/api/v1/places/{}", h.clinic),
            json!({"name": "v3", "_rev": stale}),
        )
        .await;
    assert_eq!(r.status, 200);
    // 5.2 PUT: a stale _rev is a 400
    let mut cur = t.doc(&h.clinic).await;
    cur["_rev"] = stale;
    let r = t.put(&format!("/api/v1/place/{}", h.clinic), cur).await;
    assert_eq!(
        r.json,
        json!({"code": 400, "error": "The [_rev] fields must not be changed."})
    );
    // with the current _rev it works; fields left out are removed; the lineage cannot move
    let mut cur = t.doc(&h.clinic).await;
    cur.as_object_mut().unwrap().remove("contact");
    cur["name"] = json!("v4");
    let r = t
        .put(&format!("/api/v1/place/{}", h.clinic), cur.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "v4");
    let mut moved = t.doc(&h.clinic).await;
    moved["parent"] = json!({"_id": "elsewhere"});
    let r = t.put(&format!("/api/v1/place/{}", h.clinic), moved).await;
    assert_eq!(err_msg(&r), "Parent lineage does not match.");
    let mut person = t.doc(&h.person).await;
    person["type"] = json!("clinic");
    let r = t.put(&format!("/api/v1/person/{}", h.person), person).await;
    assert_eq!(err_msg(&r), "The [type] fields must not be changed.");
}
