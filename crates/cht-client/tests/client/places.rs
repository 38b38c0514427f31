use cht_client::{ChtError, ContactDoc, NewPerson, NewPlace, PlaceContact, PlaceUpdate};
use cht_sim::Version;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn legacy_create_update_get() {
    let sim = start(Version::V4_22).await;
    let c = admin(&sim);
    seed_hierarchy(&c).await;
    let created = c
        .create_place(&NewPlace {
            name: "CHU Migori".into(),
            contact_type: "clinic".into(),
            parent: Some("hc1".into()),
            contact: Some(PlaceContact::New(
                json!({"name": "Chu Lead", "type": "person"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )),
            extra: json!({"external_code": "KE-1"})
                .as_object()
                .unwrap()
                .clone(),
            ..NewPlace::default()
        })
        .await
        .unwrap();
    let id = created.value.id.clone();
    assert_eq!(id.len(), 36, "client-chosen uuid");
    let lead = created.value.contact_id.clone().unwrap();

    let place = c.get_place(&id).await.unwrap();
    assert_eq!(place.type_id(), "clinic");
    assert_eq!(place.extra["external_code"], "KE-1");
    assert_eq!(place.contact.as_ref().map(|l| l.id()), Some(lead.as_str()));
    let person = c.get_person(&lead).await.unwrap();
    assert_eq!(person.ancestor_ids(), vec![id.as_str(), "hc1", "dh1"]);

    let r = c
        .update_place(
            &id,
            &PlaceUpdate {
                name: Some("CHU Migori North".into()),
                contact: Some("p1".into()),
                ..PlaceUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.id, id);
    let place = c.get_place(&id).await.unwrap();
    assert_eq!(place.name.as_deref(), Some("CHU Migori North"));
    assert_eq!(place.contact.as_ref().map(|l| l.id()), Some("p1"));

    let err = c.get_place("missing").await.unwrap_err();
    assert!(matches!(err, ChtError::NotFound { .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn configurable_type_via_legacy_endpoint_and_datasource_replace() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    seed_hierarchy(&c).await;
    // 5.2 create: CHT chooses the id and writes `type: contact`
    let doc = c
        .datasource_create_person(&NewPerson {
            name: "Ds Person".into(),
            place: Some("hc1".into()),
            ..NewPerson::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (doc.doc_type.as_str(), doc.type_id()),
        ("contact", "person")
    );
    assert_eq!(doc.ancestor_ids(), vec!["hc1", "dh1"]);

    let mut edited = doc.clone();
    edited.name = Some("Ds Person Renamed".into());
    edited.extra.insert("phone".into(), json!("+254700000001"));
    let stored = c.datasource_replace_person(&edited).await.unwrap();
    assert_eq!(stored.name.as_deref(), Some("Ds Person Renamed"));
    assert_ne!(stored.rev, doc.rev);
    // a stale _rev is CHT's 400, not a 409
    let err = c.datasource_replace_person(&edited).await.unwrap_err();
    assert!(
        matches!(&err, ChtError::Validation { message, .. } if message.contains("_rev")),
        "{err:?}"
    );
    let fresh: ContactDoc = c.get_person(&doc.id).await.unwrap();
    assert_eq!(fresh.extra["phone"], "+254700000001");
    sim.shutdown().await;
}
