//! Every `/__sim/faults` mode, plus a proxy that loses answers after CHT applied the request.

use std::time::{Duration, Instant};

use cht_client::{ChtClient, ChtError, NewPlace, NewUser, UserContact, UserPlace, UserUpdate};
use cht_sim::Version;
use serde_json::{Value, json};

use crate::common::*;

fn place(id: &str, name: &str) -> NewPlace {
    NewPlace {
        id: Some(id.into()),
        name: name.into(),
        contact_type: "district_hospital".into(),
        ..NewPlace::default()
    }
}

#[tokio::test]
async fn server_errors_on_reads_are_retried() {
    let sim = start(Version::V5_2).await;
    let c =
        ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW).with_retry(fast_retry(8))).unwrap();
    c.settings().await.unwrap();
    set_faults(&sim, json!({"error_rate": 0.5})).await;
    for _ in 0..10 {
        c.settings().await.expect("retries hide a 50% 5xx share");
    }
    let s = c.stats();
    assert!(s.retries > 0, "{s:?}");
    assert_eq!(s.attempts, 1 + 1 + 10 + s.retries, "{s:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn exhausted_retries_surface_a_clear_server_error() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    c.settings().await.unwrap();
    let before = c.stats().attempts;
    set_faults(&sim, json!({"error_rate": 1.0})).await;
    let err = c.settings().await.unwrap_err();
    match &err {
        ChtError::Server {
            status,
            message,
            endpoint,
        } => {
            assert_eq!(*status, 500);
            assert_eq!(message, "Server error");
            assert_eq!(endpoint.to_string(), "GET /api/v1/settings");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.stats().attempts - before, 4, "max_attempts");
    sim.shutdown().await;
}

#[tokio::test]
async fn hung_requests_time_out_and_are_retried_when_safe() {
    let sim = start(Version::V5_2).await;
    let cfg = config(&sim.base_url(), ADMIN, ADMIN_PW)
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(150))
        .with_retry(fast_retry(3));
    let c = ChtClient::new(cfg).unwrap();
    c.version().await.unwrap();
    c.settings().await.unwrap();
    set_faults(&sim, json!({"timeout_rate": 1.0})).await;
    let t0 = Instant::now();
    let err = c.get_user_opt("nobody").await.unwrap_err();
    assert!(
        matches!(&err, ChtError::Timeout { timeout, endpoint } if *timeout == Duration::from_millis(150) && endpoint.path == "/api/v2/users/nobody"),
        "{err:?}"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "3 attempts of 150 ms"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));

    // a share of hangs is absorbed by retries
    let patient = ChtClient::new(
        config(&sim.base_url(), ADMIN, ADMIN_PW)
            .with_timeouts(Duration::from_secs(1), Duration::from_millis(150))
            .with_retry(fast_retry(10)),
    )
    .unwrap();
    set_faults(&sim, json!({"timeout_rate": 0.3})).await;
    for _ in 0..5 {
        patient.settings().await.unwrap();
    }
    assert!(patient.stats().retries > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_bursts_are_retried_and_exhaustion_is_explicit() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    c.settings().await.unwrap();
    set_faults(&sim, json!({"burst_429": 3})).await;
    c.settings()
        .await
        .expect("3 × 429 then success within 4 attempts");
    assert_eq!(c.stats().retries, 3);

    set_faults(&sim, json!({"burst_429": 4})).await;
    let err = c.settings().await.unwrap_err();
    assert!(matches!(err, ChtError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("GET /api/v1/settings"));

    // 429 comes before any handler, so even a create is safely re-sent
    set_faults(&sim, json!({"burst_429": 2})).await;
    let r = c
        .create_place(&place("dh-429", "After Burst"))
        .await
        .unwrap();
    assert!(!r.recovered);
    assert_eq!(count_docs_named(&sim, "After Burst").await, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn conflicts_are_retried_only_where_repeating_is_safe() {
    let sim = start(Version::V5_2).await;
    let c = ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW).with_retry(fast_retry(10)))
        .unwrap();
    seed_hierarchy(&c).await;
    c.create_user(NewUser {
        username: "conf".into(),
        password: Some(GOOD_PW.into()),
        roles: vec!["chw".into()],
        place: Some(UserPlace::Existing(vec!["hc1".into()])),
        contact: Some(UserContact::Existing("p1".into())),
        ..NewUser::default()
    })
    .await
    .unwrap();
    c.put_doc("counter", &json!({"n": 0})).await.unwrap();

    set_faults(&sim, json!({"conflict_rate": 0.5})).await;
    // server-side merge: a 409 is CHT's own race, retried
    for i in 0..4 {
        c.update_user(
            "conf",
            &UserUpdate {
                fullname: Some(format!("Name {i}")),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    }
    // raw read-modify-write: re-read and re-apply on 409
    for _ in 0..4 {
        c.update_doc_with("counter", |d: &mut Value| {
            d["n"] = json!(d["n"].as_i64().unwrap_or(0) + 1);
        })
        .await
        .unwrap();
    }
    assert!(c.stats().retries > 0);

    set_faults(&sim, json!({"conflict_rate": 1.0})).await;
    // a raw PUT conflict is never blindly repeated
    let before = c.stats().attempts;
    let doc: Value = c.get_doc("counter").await.unwrap();
    let err = c.put_doc("counter", &doc).await.unwrap_err();
    assert!(matches!(err, ChtError::Conflict { .. }), "{err:?}");
    assert_eq!(c.stats().attempts - before, 2, "one GET, one PUT");

    clear_faults(&sim).await;
    let doc: Value = c.get_doc("counter").await.unwrap();
    assert_eq!(doc["n"], 4);
    assert_eq!(
        c.get_user("conf").await.unwrap().fullname.as_deref(),
        Some("Name 3")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn create_after_5xx_reads_back_then_creates_exactly_once() {
    let sim = start(Version::V5_2).await;
    let c = ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW).with_retry(fast_retry(10)))
        .unwrap();
    c.settings().await.unwrap();
    // The simulator's dice are seeded, so this sequence of outcomes is reproducible.
    set_faults(&sim, json!({"error_rate": 0.3})).await;
    for i in 0..8 {
        let name = format!("Flaky {i}");
        c.create_place(&place(&format!("dh-flaky-{i}"), &name))
            .await
            .unwrap();
        assert_eq!(count_docs_named(&sim, &name).await, 1, "{name}");
    }
    let s = c.stats();
    assert!(s.unknown_outcomes > 0, "the read-back path ran: {s:?}");
    clear_faults(&sim).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn create_that_hangs_is_never_posted_twice() {
    let sim = start(Version::V5_2).await;
    let cfg = config(&sim.base_url(), ADMIN, ADMIN_PW)
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(150))
        .with_retry(fast_retry(3));
    let c = ChtClient::new(cfg).unwrap();
    c.settings().await.unwrap();
    set_faults(&sim, json!({"timeout_rate": 1.0})).await;
    let before = c.stats().attempts;
    let err = c
        .create_place(&place("dh-hang", "Hung Place"))
        .await
        .unwrap_err();
    // the POST once, then the read-back GET with its retries; never a second POST
    assert!(
        matches!(&err, ChtError::OutcomeUnknown { endpoint, cause }
        if endpoint.to_string() == "POST /api/v1/places" && cause.contains("reading back failed")),
        "{err:?}"
    );
    assert_eq!(c.stats().attempts - before, 1 + 3);
    clear_faults(&sim).await;
    assert_eq!(count_docs_named(&sim, "Hung Place").await, 0);
    // with the instance healthy again the same create goes through once
    c.create_place(&place("dh-hang", "Hung Place"))
        .await
        .unwrap();
    assert_eq!(count_docs_named(&sim, "Hung Place").await, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn lost_answers_after_applied_creates_are_recovered_without_duplicates() {
    let sim = start(Version::V5_2).await;
    let proxy = LossyProxy::start(sim.addr()).await;
    let c = ChtClient::new(config(&proxy.base_url(), ADMIN, ADMIN_PW)).unwrap();
    seed_hierarchy(&c).await;
    // detected up front so the dropped answers below are the writes'
    c.version().await.unwrap();

    // place: applied, answer lost → read back by id
    proxy.drop_responses(1);
    let r = c
        .create_place(&place("dh-lost", "Lost Answer"))
        .await
        .unwrap();
    assert!(r.recovered);
    assert_eq!(r.value.id, "dh-lost");
    assert_eq!(count_docs_named(&sim, "Lost Answer").await, 1);

    // user: applied, answer lost → read back by username (a second POST would be "taken")
    proxy.drop_responses(1);
    let u = c
        .create_user(NewUser {
            username: "lost_user".into(),
            password: Some(GOOD_PW.into()),
            roles: vec!["chw".into()],
            place: Some(UserPlace::Existing(vec!["hc1".into()])),
            contact: Some(UserContact::Existing("p1".into())),
            ..NewUser::default()
        })
        .await
        .unwrap();
    assert!(u.recovered);
    assert_eq!(u.value.user.id, "org.couchdb.user:lost_user");
    assert_eq!(count_users(&sim, "lost_user").await, 1);

    // bulk: applied, answer lost → each doc compared with what is stored
    proxy.drop_responses(1);
    let res = c
        .bulk_docs(vec![
            json!({"_id": "b1", "type": "note"}),
            json!({"_id": "b2", "type": "note"}),
        ])
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.is_ok() && r.recovered), "{res:?}");

    // delete: applied, answer lost → the repeat's 404 means done
    proxy.drop_responses(1);
    c.delete_user("lost_user").await.unwrap();
    assert_eq!(count_users(&sim, "lost_user").await, 0);

    // raw PUT: applied, answer lost → the repeat's 409 is resolved by comparing
    proxy.drop_responses(1);
    let r = c
        .put_doc("raw-lost", &json!({"type": "note", "v": 1}))
        .await
        .unwrap();
    assert!(r.rev.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrency_limit_is_shared_by_clones_and_respected() {
    let sim = start(Version::V5_2).await;
    let limited =
        ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW).with_max_concurrency(2)).unwrap();
    let wide =
        ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW).with_max_concurrency(16)).unwrap();
    limited.settings().await.unwrap();
    wide.settings().await.unwrap();
    set_faults(&sim, json!({"latency_ms": 100})).await;

    async fn burst(c: &ChtClient, n: usize) -> Duration {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.settings().await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        t0.elapsed()
    }
    let slow = burst(&limited, 8).await;
    let fast = burst(&wide, 8).await;
    // 8 requests of ≥100 ms, 2 at a time: at least 4 rounds
    assert!(slow >= Duration::from_millis(400), "{slow:?}");
    assert!(fast < Duration::from_millis(350), "{fast:?}");
    assert_eq!(limited.stats().max_in_flight, 2);
    assert!(wide.stats().max_in_flight >= 4, "{:?}", wide.stats());
    sim.shutdown().await;
}
