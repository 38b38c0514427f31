//! Facts 9–25: the user endpoints.

use cht_sim::{SimConfig, Version};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn fact_09_user_endpoint_permissions() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"], "password_change_required": false})).await;
    t.user(json!({"username": "sup", "password": PW, "roles": ["chw_supervisor"], "place": h.clinic, "contact": h.person, "password_change_required": false})).await;
    t.officer("olga").await;
    let new_user = json!({"username": "x1", "password": PW, "roles": ["national_admin"]});
    // national_admin lacks can_edit; chw_supervisor has can_edit but not can_create_users
    for who in ["nat", "sup"] {
        let r = send(
            t.as_user(Method::POST, "/api/v1/users", who, PW)
                .json(&new_user),
        )
        .await;
        assert_eq!(r.status, 403, "{who}");
        assert_eq!(err_msg(&r), "Insufficient privileges");
        let r = send(t.as_user(Method::DELETE, "/api/v1/users/olga", who, PW)).await;
        assert_eq!(r.status, 403, "{who}");
        let r = send(t.as_user(Method::GET, "/api/v2/users", who, PW)).await;
        assert_eq!(r.status, 403, "{who}");
    }
    // but everyone may read themselves
    let r = send(t.as_user(Method::GET, "/api/v2/users/nat", "nat", PW)).await;
    assert_eq!(r.status, 200);
    let r = send(t.as_user(Method::GET, "/api/v2/users/olga", "nat", PW)).await;
    assert_eq!(r.status, 403);
    // the program officer holds them all
    let r = send(
        t.as_user(Method::POST, "/api/v1/users", "olga", PW)
            .json(&new_user),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        t.as_user(Method::POST, "/api/v1/users/x1", "olga", PW)
            .json(&json!({"fullname": "X"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(t.as_user(Method::DELETE, "/api/v1/users/x1", "olga", PW)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn fact_10_username_characters() {
    let t = T::new().await;
    for bad in ["Mary", "mary smith", "mary.s", "méry"] {
        let r = t
            .post(
                "/api/v1/users",
                json!({"username": bad, "password": PW, "roles": ["national_admin"]}),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(
            r.json["error"],
            json!({"message": "Invalid user name. Valid characters are lower case letters, numbers, underscore (_), and hyphen (-).", "translationKey": "username.invalid"}),
            "{bad}"
        );
    }
    t.user(json!({"username": "mary_s-2", "password": PW, "roles": ["national_admin"]}))
        .await;
}

#[tokio::test]
async fn fact_11_username_taken_including_deleted_users() {
    let t = T::new().await;
    let body = json!({"username": "mary", "password": PW, "roles": ["national_admin"]});
    t.user(body.clone()).await;
    let r = t.post("/api/v1/users", body.clone()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json["error"],
        json!({"message": "Username \"mary\" already taken.", "translationKey": "username.taken", "translationParams": {"username": "mary"}})
    );
    assert_eq!(t.delete("/api/v1/users/mary").await.status, 200);
    let r = t.post("/api/v1/users", body).await;
    assert_eq!(
        err_key(&r),
        "username.taken",
        "a deleted username cannot be reused"
    );
    // a user-settings doc alone (no _users doc) also blocks the name
    let r = t
        .put(
            "/medic/org.couchdb.user:ghost",
            json!({"name": "ghost", "type": "user-settings"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = t
        .post(
            "/api/v3/users",
            json!({"username": "ghost", "password": PW, "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(err_key(&r), "username.taken");
}

#[tokio::test]
async fn fact_12_password_length_then_score() {
    let t = T::new().await;
    let mk = |p: &str| json!({"username": "pat", "password": p, "roles": ["national_admin"]});
    let r = t.post("/api/v1/users", mk("Ab1!")).await;
    assert_eq!(
        r.json["error"],
        json!({"message": "The password must be at least 8 characters long.", "translationKey": "password.length.minimum", "translationParams": {"minimum": 8}})
    );
    for weak in ["password", "abcd1234", "aaaaaaaaaaaa"] {
        let r = t.post("/api/v1/users", mk(weak)).await;
        assert_eq!(
            r.json["error"],
            json!({"message": "The password is too easy to guess. Include a range of types of characters to increase the score.", "translationKey": "password.weak"}),
            "{weak}"
        );
    }
    // score 54 and 52 pass (contract §7.3)
    t.user(mk("Abcd1234")).await;
    let r = t
        .post(
            "/api/v1/users",
            json!({"username": "pat2", "password": "Secret12", "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn fact_13_missing_fields_object_for_single_string_for_bulk() {
    let t = T::new().await;
    let r = t.post("/api/v1/users", json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json["error"],
        json!({"message": "Missing required fields: username, password, type or roles", "translationKey": "fields.required", "translationParams": {"fields": "username, password, type or roles"}})
    );
    // offline roles need place and contact; arrays of empty strings count as missing
    let r = t.post("/api/v1/users", json!({"username": "c", "password": PW, "roles": ["chw"], "place": [""], "contact": {}})).await;
    assert_eq!(err_msg(&r), "Missing required fields: place, contact");
    // bulk: plain strings, HTTP 200
    let r = t
        .post(
            "/api/v1/users",
            json!([{}, {"username": "c", "roles": ["chw"]}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json,
        json!([{"error": "Missing required fields: username, password, type or roles"}, {"error": "Missing required fields: password, place, contact"}])
    );
}

#[tokio::test]
async fn fact_14_validation_order() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let mut body = json!({"username": "Bad Name", "password": "weak", "roles": ["chw"], "place": "no-such-place", "contact": "no-such-person"});
    let r = t.post("/api/v1/users", body.clone()).await;
    assert_eq!(err_key(&r), "password.length.minimum");
    body["password"] = json!(PW);
    let r = t.post("/api/v1/users", body.clone()).await;
    assert_eq!(err_key(&r), "username.invalid");
    body["username"] = json!("good");
    let r = t.post("/api/v1/users", body.clone()).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find place.".to_string())
    );
    body["place"] = json!(h.clinic);
    let r = t.post("/api/v1/users", body.clone()).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find person.".to_string())
    );
    body["contact"] = json!(h.person);
    t.user(body).await;
    // SSO comes before the password
    let r = t.post("/api/v1/users", json!({"username": "s", "password": "x", "oidc_username": "s@x", "roles": ["national_admin"]})).await;
    assert_eq!(
        err_msg(&r),
        "Cannot set password or token_login with oidc_username."
    );
}

#[tokio::test]
async fn fact_15_mm_online_added_to_online_and_stripped_from_offline() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.user(json!({"username": "nat", "password": PW, "roles": ["national_admin"]}))
        .await;
    t.user(json!({"username": "cw", "password": PW, "roles": ["chw", "mm-online"], "place": h.clinic, "contact": h.person})).await;
    t.chw("off", &h).await;
    let roles = |name: &'static str| {
        let t = &t;
        async move { t.get(&format!("/api/v2/users/{name}")).await.json["roles"].clone() }
    };
    assert_eq!(roles("nat").await, json!(["national_admin", "mm-online"]));
    assert_eq!(
        roles("cw").await,
        json!(["chw", "mm-online"]),
        "explicit mm-online makes a chw online"
    );
    assert_eq!(roles("off").await, json!(["chw"]));
    // stored docs agree
    assert_eq!(
        t.doc("org.couchdb.user:nat").await["roles"],
        json!(["national_admin", "mm-online"])
    );
    // an unconfigured role is offline, so place and contact become required
    let r = t
        .post(
            "/api/v1/users",
            json!({"username": "gh", "password": PW, "roles": ["ghost"]}),
        )
        .await;
    assert_eq!(err_msg(&r), "Missing required fields: place, contact");
    // updating roles recomputes it
    let r = t
        .post("/api/v1/users/off", json!({"roles": ["program_officer"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(roles("off").await, json!(["program_officer", "mm-online"]));
}

#[tokio::test]
async fn fact_16_v1_inline_place_and_contact() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let r = t
        .user(json!({"username": "ann", "password": PW, "roles": ["chw"],
            "place": {"_id": "new-clinic", "name": "Nyalenda", "type": "clinic", "parent": h.hc},
            "contact": {"name": "Ann Achieng", "phone": "+254700000001"}}))
        .await;
    let cid = r.json["contact"]["id"].as_str().unwrap().to_string();
    let place = t.doc("new-clinic").await;
    assert_eq!(
        place["parent"],
        json!({"_id": h.hc, "parent": {"_id": h.dh}})
    );
    assert_eq!(
        place["contact"],
        json!({"_id": cid, "parent": {"_id": "new-clinic", "parent": {"_id": h.hc, "parent": {"_id": h.dh}}}})
    );
    let contact = t.doc(&cid).await;
    assert_eq!(
        contact["parent"],
        json!({"_id": "new-clinic", "parent": {"_id": h.hc, "parent": {"_id": h.dh}}})
    );
    assert_eq!(contact["type"], "person");
    // an existing place keeps its primary contact
    let before = t.doc(&h.clinic).await;
    t.chw("bob", &h).await;
    assert_eq!(t.doc(&h.clinic).await.get("contact"), before.get("contact"));
    // contact outside the place
    let other = t
        .place(json!({"name": "Far", "type": "clinic", "parent": h.hc}))
        .await;
    let r = t.post("/api/v1/users", json!({"username": "cat", "password": PW, "roles": ["chw"], "place": other, "contact": h.person})).await;
    assert_eq!(
        r.json["error"],
        json!({"message": "Contact is not within place.", "translationKey": "configuration.user.place.contact"})
    );
    // a place as contact
    let r = t.post("/api/v1/users", json!({"username": "cat", "password": PW, "roles": ["chw"], "place": h.clinic, "contact": h.hc})).await;
    assert_eq!(
        r.json["error"],
        json!({"message": "Wrong type, contact is not a person.", "translationKey": "contact.type.wrong"})
    );
    // a client-sent contact.parent never matches
    let r = t.post("/api/v1/users", json!({"username": "cat", "password": PW, "roles": ["chw"], "place": h.clinic, "contact": {"name": "C", "parent": h.clinic}})).await;
    assert_eq!(err_msg(&r), "Contact is not within place.");
    // an object with _rev is refused
    let r = t.post("/api/v1/users", json!({"username": "cat", "password": PW, "roles": ["chw"], "place": {"_id": h.clinic, "_rev": "1-x"}, "contact": h.person})).await;
    assert_eq!(
        err_msg(&r),
        "Place must be a new object or string identifier (UUID)."
    );
}

#[tokio::test]
async fn fact_16_and_17_v1_create_is_not_atomic() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    // the inline place is created, then the contact check fails: the place stays behind
    let r = t
        .post("/api/v1/users", json!({"username": "dan", "password": PW, "roles": ["chw"],
            "place": {"_id": "orphan", "name": "Orphan", "type": "clinic", "parent": h.hc}, "contact": "missing-person"}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(t.get("/medic/orphan").await.status, 200);
    assert!(t.users_doc("dan").await.is_none());
}

#[tokio::test]
async fn fact_17_v1_response_and_independent_array_items() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let r = t.user(json!({"username": "eve", "password": PW, "roles": ["chw"], "place": h.clinic, "contact": h.person})).await;
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["contact", "user", "user-settings"]);
    assert_eq!(r.json["user"]["id"], "org.couchdb.user:eve");
    assert_eq!(r.json["user-settings"]["id"], "org.couchdb.user:eve");
    assert_eq!(r.json["contact"]["id"], json!(h.person));
    assert!(r.json["user"]["rev"].as_str().unwrap().starts_with("1-"));
    // array: 200, input order, failures do not stop the rest
    let r = t
        .post(
            "/api/v1/users",
            json!([
                {"username": "a1", "password": PW, "roles": ["national_admin"]},
                {"username": "a2", "password": "password", "roles": ["national_admin"]},
                {"username": "a1", "password": PW, "roles": ["national_admin"]},
                {"username": "a3", "password": PW, "roles": ["national_admin"]}
            ]),
        )
        .await;
    assert_eq!(r.status, 200);
    let items = r.json.as_array().unwrap();
    assert_eq!(items[0]["user"]["id"], "org.couchdb.user:a1");
    assert_eq!(items[1]["error"]["translationKey"], "password.weak");
    assert_eq!(items[2]["error"]["translationKey"], "username.taken");
    assert_eq!(items[3]["user"]["id"], "org.couchdb.user:a3");
    assert!(items[0].get("contact").is_none());
}

#[tokio::test]
async fn fact_18_v3_create_existing_places_only() {
    let mut settings = T::new().await.get("/api/v1/settings").await.json;
    settings["permissions"]["can_have_multiple_places"] = json!(["chw_supervisor"]);
    let t = T::with(SimConfig {
        settings: Some(settings),
        ..SimConfig::default()
    })
    .await;
    let h = t.hierarchy().await;
    let c2 = t
        .place(json!({"name": "Second", "type": "clinic", "parent": h.hc}))
        .await;
    // several places need can_have_multiple_places for the new user's roles
    let r = t.post("/api/v3/users", json!({"username": "m1", "password": PW, "roles": ["chw"], "place": [h.clinic, c2], "contact": h.person})).await;
    assert_eq!(
        r.json["error"]["message"],
        "This user cannot have multiple places"
    );
    let r = t.post("/api/v3/users", json!({"username": "m1", "password": PW, "roles": ["chw_supervisor"], "place": [h.clinic, c2], "contact": h.person})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json.get("contact").is_none(),
        "v3 answers without contact"
    );
    assert_eq!(r.json["user"]["id"], "org.couchdb.user:m1");
    assert_eq!(
        t.doc("org.couchdb.user:m1").await["facility_id"],
        json!([h.clinic, c2])
    );
    // unknown place / contact
    let r = t.post("/api/v3/users", json!({"username": "m2", "password": PW, "roles": ["chw"], "place": "nope", "contact": h.person})).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find place nope".to_string())
    );
    let r = t.post("/api/v3/users", json!({"username": "m2", "password": PW, "roles": ["chw"], "place": h.clinic, "contact": "ghost"})).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Contact not found [ghost].".to_string())
    );
    // empty lists
    let r = t
        .post(
            "/api/v3/users",
            json!({"username": "m3", "password": PW, "roles": ["national_admin"], "place": []}),
        )
        .await;
    assert_eq!(r.json["error"]["message"], "Invalid facilities list");
    let r = t.post("/api/v3/users", json!({"username": "m3", "password": PW, "roles": ["chw"], "place": [""], "contact": h.person})).await;
    assert_eq!(r.json["error"]["message"], "Missing required fields: place");
    // v3 never creates places
    let r = t.post("/api/v3/users", json!({"username": "m4", "password": PW, "roles": ["chw"], "place": {"name": "X", "type": "clinic"}, "contact": h.person})).await;
    assert_eq!(r.json["error"]["message"], "Invalid facilities list");
}

#[tokio::test]
async fn fact_18_v3_unknown_contact_before_4_22_is_missing() {
    let t = T::version(Version(4, 20, 0)).await;
    let h = t.hierarchy().await;
    let r = t.post("/api/v3/users", json!({"username": "m2", "password": PW, "roles": ["chw"], "place": h.clinic, "contact": "ghost"})).await;
    assert_eq!((r.status, err_msg(&r)), (404, "missing".to_string()));
}

#[tokio::test]
async fn fact_19_stored_user_docs() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.chw("fay", &h).await;
    let settings = t.doc("org.couchdb.user:fay").await;
    assert_eq!(settings["type"], "user-settings");
    assert_eq!(settings["facility_id"], json!([h.clinic]));
    assert_eq!(settings["contact_id"], json!(h.person));
    let user = t.users_doc("fay").await.unwrap();
    assert_eq!(user["type"], "user");
    assert_eq!(user["facility_id"], json!([h.clinic]));
    assert_eq!(user["contact_id"], json!(h.person));
    assert!(user.get("password").is_none() && user.get("derived_key").is_some());
    let r = t.get("/api/v2/users/fay").await;
    assert!(!r.text.contains(PW) && r.json.get("password").is_none());
    assert!(!t.get("/medic/org.couchdb.user:fay").await.text.contains(PW));
}

#[tokio::test]
async fn fact_20_list_and_filters() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let other = t
        .place(json!({"name": "Other", "type": "clinic", "parent": h.hc}))
        .await;
    let p2 = t.person("Grace", &other).await;
    t.chw("u1", &h).await;
    t.user(json!({"username": "u2", "password": PW, "roles": ["chw"], "place": other, "contact": p2, "fullname": "Grace W", "email": "g@x.org"})).await;
    t.user(json!({"username": "u3", "password": PW, "roles": ["national_admin"]}))
        .await;
    let names = |r: &Resp| -> Vec<String> {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let all = t.get("/api/v2/users").await;
    assert_eq!(names(&all), vec!["u1", "u2", "u3"]);
    let u2 = &all.json[1];
    assert_eq!(u2["place"][0]["_id"], json!(other));
    assert_eq!(u2["place"][0]["name"], "Other", "raw place docs");
    assert_eq!(u2["contact"]["_id"], json!(p2));
    assert_eq!(u2["fullname"], "Grace W");
    assert_eq!(u2["id"], "org.couchdb.user:u2");
    assert!(u2["rev"].as_str().unwrap().starts_with("1-"));
    assert_eq!(all.json[2]["place"], Value::Null);
    assert!(
        all.json[2].get("contact").is_none(),
        "undefined keys are omitted"
    );
    assert_eq!(
        names(&t.get(&format!("/api/v2/users?facility_id={other}")).await),
        vec!["u2"]
    );
    assert_eq!(
        names(
            &t.get(&format!("/api/v2/users?contact_id={}", h.person))
                .await
        ),
        vec!["u1"]
    );
    assert!(
        names(
            &t.get(&format!(
                "/api/v2/users?facility_id={other}&contact_id={}",
                h.person
            ))
            .await
        )
        .is_empty()
    );
    assert!(names(&t.get("/api/v2/users?facility_id=unknown").await).is_empty());
    // deleted users disappear
    t.delete("/api/v1/users/u2").await;
    assert_eq!(names(&t.get("/api/v2/users").await), vec!["u1", "u3"]);
    assert!(names(&t.get(&format!("/api/v2/users?facility_id={other}")).await).is_empty());
    let r = t.get("/api/v2/users/u2").await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (
            404,
            "Failed to find user with name [u2] in the [users] database.".to_string()
        )
    );
    // a multi-place user matches any of its places
    let r = t
        .post(
            "/api/v1/users/u1",
            json!({"place": [h.clinic, other], "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "national_admin cannot have multiple places: {}",
        r.text
    );
}

#[tokio::test]
async fn fact_21_update_body_rules() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.user(
        json!({"username": "gil", "password": PW, "roles": ["national_admin"], "place": h.clinic}),
    )
    .await;
    let r = t.post("/api/v1/users/gil", json!({})).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (
            400,
            "Request body is empty or Content-Type header was not set to application/json."
                .to_string()
        )
    );
    let r = t
        .post("/api/v1/users/gil", json!({"foo": 1, "fullname": null}))
        .await;
    assert_eq!(
        r.json["error"],
        json!({"message": "One of the following fields are required: password, known, place, contact, type, roles, oidc_username, fullname, email, phone, external_id, token_login, language", "translationKey": "fields.one.required"})
    );
    // null place is allowed and detaches; unknown fields are ignored
    let r = t
        .post(
            "/api/v3/users/gil",
            json!({"place": null, "whatever": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["user", "user-settings"]);
    assert_eq!(
        t.doc("org.couchdb.user:gil").await["facility_id"],
        Value::Null
    );
    // the client's _rev is ignored
    let r = t
        .post(
            "/api/v1/users/gil",
            json!({"fullname": "Gil", "_rev": "99-bogus"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(t.doc("org.couchdb.user:gil").await["fullname"], "Gil");
    let r = t
        .post("/api/v1/users/nobody", json!({"fullname": "X"}))
        .await;
    assert_eq!(r.status, 404);
    let r = t.post("/api/v1/users/gil", json!({"place": "nope"})).await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (404, "Failed to find place nope".to_string())
    );
}

#[tokio::test]
async fn fact_22_self_update_rules() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.chw("hal", &h).await;
    t.chw("ida", &h).await;
    let r = send(
        t.as_user(Method::POST, "/api/v1/users/hal", "hal", PW)
            .json(&json!({"fullname": "Hal", "phone": "+254700000009"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // anything else: the not-logged-in response
    let r = send(
        t.as_user(Method::POST, "/api/v1/users/hal", "hal", PW)
            .json(&json!({"roles": ["program_officer"]})),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json, json!({"code": 401, "error": "unauthorized"}));
    // a password change needs Basic auth
    let login = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "hal", "password": PW})),
    )
    .await;
    let cookie = login.cookie("AuthSession").expect("session");
    let r = send(
        t.anon(Method::POST, "/api/v1/users/hal")
            .header("cookie", &cookie)
            .json(&json!({"password": "N3w-Passw0rd!"})),
    )
    .await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (
            403,
            "You must authenticate with Basic Auth to modify your password".to_string()
        )
    );
    let r = send(
        t.as_user(Method::POST, "/api/v1/users/hal", "hal", PW)
            .json(&json!({"password": "N3w-Passw0rd!"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.users_doc("hal").await.unwrap()["password_change_required"],
        false,
        "self-service change"
    );
    // the old password no longer works, and the old cookie is invalidated with it
    assert_eq!(
        send(t.as_user(Method::GET, "/api/v2/users/hal", "hal", PW))
            .await
            .status,
        401
    );
    assert_eq!(
        send(
            t.anon(Method::GET, "/api/v2/users/hal")
                .header("cookie", &cookie)
        )
        .await
        .status,
        401
    );
    // someone else
    let r = send(
        t.as_user(Method::POST, "/api/v1/users/hal", "ida", PW)
            .json(&json!({"fullname": "X"})),
    )
    .await;
    assert_eq!(
        (r.status, err_msg(&r)),
        (
            403,
            "You do not have permissions to modify this person".to_string()
        )
    );
}

#[tokio::test]
async fn fact_23_password_change_required() {
    let mut settings = T::new().await.get("/api/v1/settings").await.json;
    settings["permissions"]["can_skip_password_change"] = json!(["data_entry"]);
    let t = T::with(SimConfig {
        settings: Some(settings),
        ..SimConfig::default()
    })
    .await;
    t.user(json!({"username": "j1", "password": PW, "roles": ["national_admin"]}))
        .await;
    t.user(json!({"username": "j2", "password": PW, "roles": ["national_admin"], "password_change_required": false})).await;
    t.user(json!({"username": "j3", "password": PW, "roles": ["data_entry"]}))
        .await;
    let flag = |n: &'static str| {
        let t = &t;
        async move { t.users_doc(n).await.unwrap()["password_change_required"].clone() }
    };
    assert_eq!(flag("j1").await, true);
    assert_eq!(flag("j2").await, false);
    assert_eq!(flag("j3").await, false, "can_skip_password_change");
    let r = send(
        t.raw(Method::POST, "/medic/login")
            .json(&json!({"user": "j1", "password": PW})),
    )
    .await;
    assert_eq!(r.text, "/medic/password-reset");
    assert!(r.cookie("AuthSession").is_none());
    // an admin resetting j2's password sets the flag again
    t.post("/api/v1/users/j2", json!({"password": "An0ther-Pass"}))
        .await;
    assert_eq!(flag("j2").await, true);
}

#[tokio::test]
async fn fact_24_delete_tombstones_user_and_keeps_settings() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    t.chw("kim", &h).await;
    let r = t.delete("/api/v1/users/kim").await;
    assert_eq!(r.status, 200);
    let arr = r.json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert!(
        arr.iter()
            .all(|x| x["ok"] == true && x["id"] == "org.couchdb.user:kim")
    );
    assert_eq!(t.users_doc("kim").await.unwrap()["_deleted"], true);
    let s = t.doc("org.couchdb.user:kim").await;
    assert_eq!(s["inactive"], true);
    assert!(s["deletion_date"].as_u64().unwrap() > 1_600_000_000_000);
    // person and place untouched
    assert_eq!(
        t.doc(&h.person).await["_rev"]
            .as_str()
            .unwrap()
            .split('-')
            .next(),
        Some("1")
    );
    assert!(t.doc(&h.clinic).await.get("_deleted").is_none());
    let r = t.delete("/api/v1/users/never").await;
    assert_eq!((r.status, err_msg(&r)), (404, "missing".to_string()));
    // the user can no longer authenticate
    assert_eq!(
        send(t.as_user(Method::GET, "/_session", "kim", PW))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn fact_25_sso_and_token_login_messages() {
    let t = T::new().await;
    let r = t
        .post(
            "/api/v1/users",
            json!({"username": "s1", "oidc_username": "s1@x", "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(
        r.json,
        json!({"code": 400, "error": "Cannot set oidc_username when OIDC Login is not enabled."})
    );
    let r = t.post("/api/v1/users", json!({"username": "s1", "oidc_username": "s1@x", "token_login": true, "roles": ["national_admin"]})).await;
    assert_eq!(
        err_msg(&r),
        "Cannot set password or token_login with oidc_username."
    );

    // token login needs app_url on 5.x
    let mut settings = t.get("/api/v1/settings").await.json;
    settings["token_login"] = json!({"enabled": true});
    settings["oidc_provider"] = json!({"discovery_url": "https://idp.example/.well-known/openid-configuration", "client_id": "cht"});
    let body = json!({"username": "tok", "token_login": true, "phone": "0712345678", "roles": ["national_admin"]});
    let t5 = T::with(SimConfig {
        settings: Some(settings.clone()),
        ..SimConfig::default()
    })
    .await;
    let r = t5.post("/api/v1/users", body.clone()).await;
    assert_eq!(
        err_msg(&r),
        "app_url configuration is required for token login"
    );
    let t4 = T::with(SimConfig {
        settings: Some(settings.clone()),
        version: Version(4, 22, 0),
        ..SimConfig::default()
    })
    .await;
    let r = t4.post("/api/v1/users", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["token_login"]["expiration_date"].as_u64().is_some());
    assert_eq!(
        t4.doc("org.couchdb.user:tok").await["phone"],
        "+254712345678"
    );
    let r = t4.post("/api/v1/users", json!({"username": "tok2", "token_login": true, "phone": "not a phone", "roles": ["national_admin"]})).await;
    assert_eq!(
        r.json["error"]["translationKey"],
        "configuration.enable.token.login.phone"
    );
    // with a provider configured, SSO users are created and refused at password login
    let r = t5
        .post(
            "/api/v1/users",
            json!({"username": "sso", "oidc_username": "sso@x", "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t5
        .post(
            "/api/v1/users",
            json!({"username": "sso2", "oidc_username": "sso@x", "roles": ["national_admin"]}),
        )
        .await;
    assert_eq!(
        r.json["error"],
        json!({"message": "The oidc_username [sso@x] already exists for user [org.couchdb.user:sso].", "translationKey": "user.sso.username.duplicate"})
    );
    let r = t5
        .post("/api/v1/users/sso", json!({"token_login": true}))
        .await;
    assert_eq!(err_msg(&r), "Cannot set token_login with oidc_username.");
}
