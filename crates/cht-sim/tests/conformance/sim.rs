//! The simulator's own features: demo seed, seed files, faults, `/__sim`, persistence, CSV.

use std::time::{Duration, Instant};

use cht_sim::{DEMO_PASSWORD, FaultConfig, Seed, SimConfig, Version};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

fn demo(size: usize) -> SimConfig {
    SimConfig {
        seed: Seed::Demo,
        seed_size: size,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn info_and_monitoring_report_the_version() {
    for (v, s) in [(Version(4, 22, 0), "4.22.0"), (Version(5, 2, 0), "5.2.0")] {
        let t = T::version(v).await;
        let r = send(t.raw(Method::GET, "/api/info")).await;
        assert_eq!(r.json, json!({"version": s}));
        let r = send(t.raw(Method::GET, "/api/v2/monitoring")).await;
        assert_eq!(r.json["version"]["app"], s);
        assert_eq!(r.json["sentinel"]["backlog"], 0);
    }
}

#[tokio::test]
async fn demo_seed_is_kenya_shaped_and_deterministic() {
    let a = T::with(demo(300)).await;
    let b = T::with(demo(300)).await;
    let stats = send(a.raw(Method::GET, "/__sim/stats")).await.json;
    let by_type = &stats["medic"]["by_type"];
    let places: u64 = [
        "a_county",
        "b_sub_county",
        "c_community_health_unit",
        "d_community_health_volunteer_area",
    ]
    .iter()
    .map(|t| by_type[*t].as_u64().unwrap_or(0))
    .sum();
    assert_eq!(places, 300);
    assert!(by_type["person"].as_u64().unwrap() > 200);
    assert_eq!(stats["users"]["active"], by_type["person"]);
    let dump_a = send(a.raw(
        Method::GET,
        "/__sim/docs?type=c_community_health_unit&limit=3",
    ))
    .await
    .json;
    let dump_b = send(b.raw(
        Method::GET,
        "/__sim/docs?type=c_community_health_unit&limit=3",
    ))
    .await
    .json;
    assert_eq!(dump_a, dump_b, "same seed, same ids and names");
    let unit = &dump_a[0];
    assert!(
        unit["name"]
            .as_str()
            .unwrap()
            .ends_with(" Community Health Unit")
    );
    assert_eq!(unit["code"].as_str().unwrap().len(), 6);
    assert_eq!(
        unit["parent"]["parent"]["_id"].as_str().unwrap().len(),
        32,
        "unit → sub-county → county"
    );
    // the hierarchy answers the views a portal uses
    let r = a.get("/medic/_design/medic-client/_view/contacts_by_type?key=%5B%22a_county%22%5D&include_docs=true&reduce=false").await;
    let county = &r.json["rows"][0]["doc"];
    assert!(county["name"].as_str().unwrap().ends_with(" County"));
    // seeded users sign in with the demo password and are listed at their place
    let users = a
        .get(&format!(
            "/api/v2/users?facility_id={}",
            unit["_id"].as_str().unwrap()
        ))
        .await
        .json;
    let cha = &users[0];
    assert_eq!(cha["roles"], json!(["community_health_assistant"]));
    let name = cha["username"].as_str().unwrap();
    let r = send(
        a.raw(Method::POST, "/medic/login")
            .json(&json!({"user": name, "password": DEMO_PASSWORD})),
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (302, "/"));
    // a different seed gives different data
    let c = T::with(SimConfig {
        rng_seed: 1,
        ..demo(300)
    })
    .await;
    let dump_c = send(c.raw(
        Method::GET,
        "/__sim/docs?type=c_community_health_unit&limit=3",
    ))
    .await
    .json;
    assert_ne!(dump_a, dump_c);
}

#[tokio::test]
async fn seed_file_loads_docs_users_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    let mut settings = T::new().await.get("/api/v1/settings").await.json;
    settings["app_url"] = json!("https://seeded.example");
    let docs = json!([
        {"_id": "settings", "settings": settings},
        {"_id": "dh1", "type": "district_hospital", "name": "Seeded District"},
        {"_id": "p1", "type": "person", "name": "Seeded Person", "parent": {"_id": "dh1"}},
        {"_id": "org.couchdb.user:seeded", "type": "user", "name": "seeded", "roles": ["program_officer", "mm-online"], "password": PW, "facility_id": ["dh1"]},
        {"_id": "org.couchdb.user:seeded", "type": "user-settings", "name": "seeded", "roles": ["program_officer", "mm-online"], "facility_id": ["dh1"]}
    ]);
    std::fs::write(&path, docs.to_string()).unwrap();
    let t = T::with(SimConfig {
        seed: Seed::File(path),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        t.get("/api/v1/settings").await.json["app_url"],
        "https://seeded.example"
    );
    let r = send(t.as_user(Method::GET, "/api/v2/users?facility_id=dh1", "seeded", PW)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json[0]["username"], "seeded");
    assert_eq!(t.doc("p1").await["name"], "Seeded Person");
    // a broken seed is a start error, not a panic
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    let err = cht_sim::Simulator::start(SimConfig {
        seed: Seed::File(bad),
        ..SimConfig::default()
    })
    .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn faults_inject_errors_bursts_conflicts_and_latency() {
    let t = T::new().await;
    let set = |body: Value| {
        let t = &t;
        async move { send(t.raw(Method::PUT, "/__sim/faults").json(&body)).await }
    };
    let r = set(json!({"error_rate": 1.0})).await;
    assert_eq!(r.json["error_rate"], 1.0);
    let r = t.get("/api/v2/users").await;
    assert_eq!((r.status, err_msg(&r)), (500, "Server error".to_string()));
    // /__sim is never faulted
    assert_eq!(send(t.raw(Method::GET, "/__sim/faults")).await.status, 200);
    set(json!({"burst_429": 2})).await;
    assert_eq!(t.get("/api/v2/users").await.status, 429);
    assert_eq!(t.get("/api/v2/users").await.status, 429);
    assert_eq!(t.get("/api/v2/users").await.status, 200);
    set(json!({"conflict_rate": 1.0})).await;
    assert_eq!(
        t.get("/api/v2/users").await.status,
        200,
        "reads are not conflicted"
    );
    let r = t.put("/medic/doc1", json!({"a": 1})).await;
    assert_eq!(
        r.json,
        json!({"error": "conflict", "reason": "Document update conflict."})
    );
    let r = t.post("/api/v1/people", json!({"name": "x"})).await;
    assert_eq!(
        r.json,
        json!({"code": 409, "error": "Document update conflict."})
    );
    // POST merges; DELETE clears
    set(json!({"latency_ms": 150})).await;
    let r = send(
        t.raw(Method::POST, "/__sim/faults")
            .json(&json!({"jitter_ms": 10})),
    )
    .await;
    assert_eq!(r.json["latency_ms"], 150);
    let start = Instant::now();
    assert_eq!(t.get("/api/info").await.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
    let r = send(t.raw(Method::DELETE, "/__sim/faults")).await;
    assert_eq!(
        r.json,
        serde_json::to_value(FaultConfig::default()).unwrap()
    );
    let r = set(json!({"error_rate": 2})).await;
    assert_eq!(r.status, 400);
    let r = set(json!({"nonsense": 1})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn timeout_fault_holds_the_request_until_the_client_gives_up() {
    let t = T::with(SimConfig {
        faults: FaultConfig {
            timeout_rate: 1.0,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let start = Instant::now();
    let err = t
        .raw(Method::GET, "/api/info")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout());
    assert!(start.elapsed() >= Duration::from_millis(300));
    // shutdown releases hung requests instead of waiting for them
    let pending = tokio::spawn(t.raw(Method::GET, "/api/info").send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(5), t.sim.shutdown())
        .await
        .expect("shutdown completes");
    let _ = pending.await;
}

#[tokio::test]
async fn sim_reset_restores_the_seeded_state() {
    let t = T::with(demo(50)).await;
    let before = send(t.raw(Method::GET, "/__sim/stats")).await.json;
    t.officer("temp").await;
    t.post("/api/v1/places", json!({"name": "x", "type": "a_county"}))
        .await;
    assert_ne!(
        send(t.raw(Method::GET, "/__sim/stats")).await.json["medic"],
        before["medic"]
    );
    let r = send(t.raw(Method::POST, "/__sim/reset")).await;
    assert_eq!(r.json, json!({"ok": true}));
    let after = send(t.raw(Method::GET, "/__sim/stats")).await.json;
    assert_eq!(after["medic"], before["medic"]);
    assert_eq!(after["users"], before["users"]);
    assert_eq!(t.get("/api/v2/users/temp").await.status, 404);
}

#[tokio::test]
async fn state_file_survives_restart_and_keeps_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let cfg = SimConfig {
        state_file: Some(path.clone()),
        ..SimConfig::default()
    };
    let t = T::with(cfg.clone()).await;
    let h = t.hierarchy().await;
    t.officer("olga").await;
    let login = send(
        t.raw(Method::POST, "/_session")
            .json(&json!({"name": "olga", "password": PW})),
    )
    .await;
    let cookie = login.cookie("AuthSession").unwrap();
    let T { sim, .. } = t;
    sim.shutdown().await;
    assert!(path.exists());
    assert!(
        !std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp"))
    );
    let t = T::with(cfg).await;
    assert_eq!(t.doc(&h.clinic).await["name"], "Kondele");
    let r = send(
        t.anon(Method::GET, "/api/v2/users/olga")
            .header("cookie", cookie),
    )
    .await;
    assert_eq!(r.status, 200, "session cookie still valid: {}", r.text);
    // revisions continue where they were
    let mut doc = t.doc(&h.clinic).await;
    doc["name"] = json!("After restart");
    assert!(
        t.put(&format!("/medic/{}", h.clinic), doc).await.json["rev"]
            .as_str()
            .unwrap()
            .starts_with("2-")
    );
}

#[tokio::test]
async fn v2_users_accepts_csv_and_logs_the_upload() {
    let t = T::new().await;
    let h = t.hierarchy().await;
    let csv = format!(
        "username,password,roles,place,contact.name,fullname,import.status:excluded\n\
         csv1,{PW},chw,{},CSV One,One,\n\
         csv2,{PW},chw,{},CSV Two,Two,imported\n\
         Bad Name,{PW},chw,{},CSV Three,Three,\n",
        h.clinic, h.clinic, h.clinic
    );
    let r = send(
        t.admin(Method::POST, "/api/v2/users")
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json.as_array().unwrap();
    assert_eq!(items.len(), 2, "the imported row is skipped");
    assert_eq!(items[0]["user"]["id"], "org.couchdb.user:csv1");
    assert_eq!(items[1]["error"]["translationKey"], "username.invalid");
    let logs = send(t.raw(Method::GET, "/__sim/docs?db=medic-logs"))
        .await
        .json;
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|d| d["_id"].as_str().unwrap().starts_with("bulk-user-upload-"))
    );
}
