use cht_client::{
    ChtError, FacilityIds, NewUser, UserContact, UserFilter, UserPlace, UserSettingsDoc, UserUpdate,
};
use cht_sim::Version;
use serde_json::{Value, json};

use crate::common::*;

fn chw(username: &str, place: &str, contact: &str) -> NewUser {
    NewUser {
        username: username.into(),
        password: Some(GOOD_PW.into()),
        roles: vec!["chw".into()],
        place: Some(UserPlace::Existing(vec![place.into()])),
        contact: Some(UserContact::Existing(contact.into())),
        fullname: Some("Pat One".into()),
        ..NewUser::default()
    }
}

#[tokio::test]
async fn create_get_list_update_delete_on_both_versions() {
    for v in [Version::V4_22, Version::V5_2] {
        let sim = start(v).await;
        let c = admin(&sim);
        seed_hierarchy(&c).await;

        let created = c.create_user(chw("pat", "hc1", "p1")).await.unwrap();
        assert!(!created.recovered);
        assert_eq!(created.value.user.id, "org.couchdb.user:pat");
        assert!(created.value.user_settings.is_some());

        let u = c.get_user("pat").await.unwrap();
        assert_eq!(u.facility_ids(), vec!["hc1"]);
        assert_eq!(u.contact_id(), Some("p1"));
        assert_eq!(u.roles, vec!["chw".to_string()]);
        assert_eq!(u.fullname.as_deref(), Some("Pat One"));

        // facility_id is stored as an array on 4.9+
        let settings: UserSettingsDoc = c.get_doc("org.couchdb.user:pat").await.unwrap();
        assert_eq!(settings.facility_id, FacilityIds::Many(vec!["hc1".into()]));
        assert_eq!(settings.contact_id.as_deref(), Some("p1"));

        let by_place = c
            .list_users(&UserFilter {
                facility_id: Some("hc1".into()),
                ..UserFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            by_place
                .iter()
                .map(|u| u.username.as_str())
                .collect::<Vec<_>>(),
            vec!["pat"]
        );
        let by_contact = c
            .list_users(&UserFilter {
                contact_id: Some("nobody".into()),
                ..UserFilter::default()
            })
            .await
            .unwrap();
        assert!(by_contact.is_empty());

        let upd = c
            .update_user(
                "pat",
                &UserUpdate {
                    fullname: Some("Pat Renamed".into()),
                    phone: Some("+254712345678".into()),
                    ..UserUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(upd.user.id, "org.couchdb.user:pat");
        let u = c.get_user("pat").await.unwrap();
        assert_eq!(u.fullname.as_deref(), Some("Pat Renamed"));
        assert_eq!(u.phone.as_deref(), Some("+254712345678"));

        c.delete_user("pat").await.unwrap();
        assert!(c.get_user_opt("pat").await.unwrap().is_none());
        let settings: UserSettingsDoc = c.get_doc("org.couchdb.user:pat").await.unwrap();
        assert_eq!(settings.inactive, Some(true));
        // a second delete is a plain NotFound (no earlier lost attempt to account for)
        assert!(matches!(
            c.delete_user("pat").await,
            Err(ChtError::NotFound { .. })
        ));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn inline_place_and_contact_go_through_v1() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    seed_hierarchy(&c).await;
    let place = json!({"name": "Clinic Inline", "type": "clinic", "parent": "hc1"});
    let contact = json!({"name": "Inline Person"});
    let created = c
        .create_user(NewUser {
            username: "inline".into(),
            password: Some(GOOD_PW.into()),
            roles: vec!["chw".into()],
            place: Some(UserPlace::New(place.as_object().unwrap().clone())),
            contact: Some(UserContact::New(contact.as_object().unwrap().clone())),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let contact_id = created
        .value
        .contact_id
        .clone()
        .expect("v1 returns the contact");
    let u = c.get_user("inline").await.unwrap();
    assert_eq!(u.contact_id(), Some(contact_id.as_str()));
    let place_id = u.facility_ids()[0].to_string();
    let clinic = c.get_place(&place_id).await.unwrap();
    assert_eq!(clinic.name.as_deref(), Some("Clinic Inline"));
    assert_eq!(clinic.ancestor_ids(), vec!["hc1", "dh1"]);
    assert_eq!(
        clinic.contact.as_ref().map(|l| l.id()),
        Some(contact_id.as_str())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn facility_id_string_form_is_read_and_written_back_unchanged() {
    // The simulator only models 4.9+ (arrays); a pre-4.9 doc is written raw to check the
    // string form end to end, including a read-modify-write that must not convert it.
    let sim = start(Version::V4_22).await;
    let c = admin(&sim);
    let old = json!({
        "_id": "org.couchdb.user:legacy", "name": "legacy", "type": "user-settings",
        "roles": ["chw"], "facility_id": "hc-old", "contact_id": "p-old", "known": true,
        "language": "sw"
    });
    c.put_doc("org.couchdb.user:legacy", &old).await.unwrap();
    let doc: UserSettingsDoc = c.get_doc("org.couchdb.user:legacy").await.unwrap();
    assert_eq!(doc.facility_id, FacilityIds::One("hc-old".into()));
    assert!(doc.facility_id.contains("hc-old"));
    c.update_doc_with("org.couchdb.user:legacy", |d: &mut UserSettingsDoc| {
        d.fullname = Some("Legacy User".into());
    })
    .await
    .unwrap();
    let raw: Value = c.get_doc("org.couchdb.user:legacy").await.unwrap();
    assert_eq!(raw["facility_id"], "hc-old");
    assert_eq!(raw["language"], "sw", "unknown field survives");
    assert_eq!(raw["fullname"], "Legacy User");
    sim.shutdown().await;
}

#[tokio::test]
async fn multiple_places_use_v3_arrays() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    seed_hierarchy(&c).await;
    let err = c
        .create_user(NewUser {
            username: "multi".into(),
            password: Some(GOOD_PW.into()),
            roles: vec!["chw".into()],
            place: Some(UserPlace::Existing(vec!["hc1".into(), "dh1".into()])),
            contact: Some(UserContact::Existing("p1".into())),
            ..NewUser::default()
        })
        .await
        .unwrap_err();
    // reached CHT's multi-place rule, i.e. the array was sent to v3
    assert!(
        matches!(&err, ChtError::Validation { message, .. } if message == "This user cannot have multiple places"),
        "{err:?}"
    );
    sim.shutdown().await;
}
