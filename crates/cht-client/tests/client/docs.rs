use cht_client::{AllDocsRow, ChtError, ContactDoc, DepthRange, DepthValue, NewPlace, PageRequest};
use cht_sim::Version;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn get_put_with_rev_and_conflict() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    let r1 = c
        .put_doc("note-1", &json!({"type": "note", "text": "a"}))
        .await
        .unwrap();
    let mut doc: Value = c.get_doc("note-1").await.unwrap();
    assert_eq!(doc["_rev"].as_str(), r1.rev.as_deref());
    doc["text"] = json!("b");
    let r2 = c.put_doc("note-1", &doc).await.unwrap();
    assert_ne!(r1.rev, r2.rev);
    // the old rev is stale now
    let err = c.put_doc("note-1", &doc).await.unwrap_err();
    assert!(
        matches!(&err, ChtError::Conflict { message, endpoint } if message == "Document update conflict." && endpoint.to_string() == "PUT /medic/note-1"),
        "{err:?}"
    );
    assert!(c.get_doc_opt::<Value>("nope").await.unwrap().is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn all_docs_and_bulk_docs() {
    let sim = start(Version::V4_22).await;
    let c = admin(&sim);
    let res = c
        .bulk_docs(vec![
            json!({"_id": "a", "type": "note"}),
            json!({"type": "note", "n": 2}),
            json!({"_id": "c", "type": "note"}),
        ])
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.is_ok() && !r.recovered), "{res:?}");
    let generated = res[1].id.clone().unwrap();
    let del = c
        .bulk_docs(vec![
            json!({"_id": "c", "_rev": res[2].rev, "_deleted": true}),
            json!({"_id": "a", "_rev": "1-stale", "type": "note"}),
        ])
        .await
        .unwrap();
    assert!(del[0].is_ok());
    assert_eq!(del[1].error.as_deref(), Some("conflict"));

    let keys = vec!["a".to_string(), "c".into(), "zzz".into(), generated.clone()];
    let rows = c.all_docs::<Value>(&keys, true).await.unwrap();
    assert!(
        matches!(&rows[0], AllDocsRow::Found { id, doc: Some(d), .. } if id == "a" && d["type"] == "note")
    );
    assert!(matches!(&rows[1], AllDocsRow::Deleted { id, .. } if id == "c"));
    assert!(matches!(&rows[2], AllDocsRow::Missing { key } if key == "zzz"));
    assert!(matches!(&rows[3], AllDocsRow::Found { doc: Some(d), .. } if d["n"] == 2));
    sim.shutdown().await;
}

async fn many_clinics(c: &cht_client::ChtClient, n: usize) {
    seed_hierarchy(c).await;
    for i in 0..n {
        c.create_place(&NewPlace {
            id: Some(format!("clinic-{i:02}")),
            name: format!("Clinic {i:02}"),
            contact_type: "clinic".into(),
            parent: Some("hc1".into()),
            ..NewPlace::default()
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn contacts_by_type_pages_on_4_and_5() {
    for v in [Version::V4_22, Version::V5_2] {
        let sim = start(v).await;
        let c = admin(&sim);
        many_clinics(&c, 7).await;
        let mut ids = Vec::new();
        let mut page = PageRequest::first(3);
        let mut pages = 0;
        loop {
            let p = c.contacts_by_type("clinic", &page).await.unwrap();
            pages += 1;
            for r in &p.rows {
                assert_eq!(r.key, json!(["clinic"]));
                assert!(r.value.starts_with("false false 2 clinic"), "{}", r.value);
                assert_eq!(r.doc.as_ref().map(ContactDoc::type_id), Some("clinic"));
                ids.push(r.id.clone());
            }
            match p.next {
                Some(n) => page.after = Some(n),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let expected: Vec<String> = (0..7).map(|i| format!("clinic-{i:02}")).collect();
        assert_eq!(ids, expected);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn contacts_by_depth_ranges_and_paging() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    many_clinics(&c, 4).await;
    // dh1 itself (depth 0), hc1 (1), p1 + 4 clinics (2)
    let all = c
        .contacts_by_depth("dh1", DepthRange::Any, &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 7);
    assert!(all.next.is_none());
    let direct = c
        .contacts_by_depth(
            "hc1",
            DepthRange::Between(1, 1),
            &PageRequest {
                include_docs: false,
                ..PageRequest::first(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(direct.rows.len(), 2);
    assert!(
        direct
            .rows
            .iter()
            .all(|r| r.doc.is_none() && r.key == json!(["hc1", 1]))
    );
    assert!(matches!(direct.rows[0].value, DepthValue::Current { .. }));
    let rest = c
        .contacts_by_depth(
            "hc1",
            DepthRange::Between(1, 1),
            &PageRequest {
                include_docs: false,
                after: direct.next.clone(),
                limit: 10,
            },
        )
        .await
        .unwrap();
    let mut got: Vec<String> = direct
        .rows
        .iter()
        .chain(rest.rows.iter())
        .map(|r| r.id.clone())
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec!["clinic-00", "clinic-01", "clinic-02", "clinic-03", "p1"]
    );
    sim.shutdown().await;
}
