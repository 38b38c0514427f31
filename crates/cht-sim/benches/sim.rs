//! Throughput of the simulator over real HTTP on loopback, at ~100k medic docs.
//! Run: `cargo bench -p cht-sim --bench sim`. Plain `main` (no criterion); prints its figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cht_sim::{Seed, SimConfig, Simulator};
use serde_json::{Value, json};

const CONCURRENCY: usize = 8;
const PHASE: Duration = Duration::from_secs(6);
/// 34k places → ~34k people and ~34k user-settings: ~100k docs in `medic`.
const SEED_SIZE: usize = 34_000;

/// Runs `CONCURRENCY` workers for `PHASE`; each call of `make` issues one request.
async fn phase<F, Fut>(name: &str, make: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let seq = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (make, done, failed, seq) =
                (make.clone(), done.clone(), failed.clone(), seq.clone());
            tokio::spawn(async move {
                while start.elapsed() < PHASE {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    if make(n).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    let secs = start.elapsed().as_secs_f64();
    let ok = done.load(Ordering::Relaxed);
    let rate = ok as f64 / secs;
    println!(
        "{name:<58} {rate:>9.0} req/s  ({ok} ok, {} failed, {secs:.1} s, {CONCURRENCY} concurrent)",
        failed.load(Ordering::Relaxed)
    );
    rate
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let t0 = Instant::now();
    let sim = Simulator::start(SimConfig {
        seed: Seed::Demo,
        seed_size: SEED_SIZE,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let url = sim.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let stats: Value = http
        .get(format!("{url}/__sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    println!(
        "seeded {} medic docs, {} users, {} contacts_by_depth rows in {:.1} s",
        stats["medic"]["docs"],
        stats["users"]["active"],
        stats["views"]["contacts_by_depth_rows"],
        t0.elapsed().as_secs_f64()
    );

    let get = |path: String| {
        let (http, url) = (http.clone(), url.clone());
        move |_n: usize| {
            let (http, url, path) = (http.clone(), url.clone(), path.clone());
            async move {
                http.get(format!("{url}{path}"))
                    .basic_auth("medic", Some("password"))
                    .header("accept", "application/json")
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    let view = "/medic/_design/medic-client/_view/contacts_by_type";
    phase(
        "contacts_by_type key=[CHP area] include_docs limit=100",
        get(format!("{view}?key=%5B%22d_community_health_volunteer_area%22%5D&include_docs=true&reduce=false&limit=100")),
    )
    .await;
    phase(
        "contacts_by_type key=[CHU] include_docs (all ~3.1k rows)",
        get(format!(
            "{view}?key=%5B%22c_community_health_unit%22%5D&include_docs=true&reduce=false"
        )),
    )
    .await;
    phase("contacts_by_type reduce (_count)", get(view.to_string())).await;

    let post = |path: &'static str, body: fn(usize) -> Value| {
        let (http, url) = (http.clone(), url.clone());
        move |n: usize| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.post(format!("{url}{path}"))
                    .basic_auth("medic", Some("password"))
                    .header("accept", "application/json")
                    .json(&body(n))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    phase(
        "POST /api/v1/users (online user)",
        post("/api/v1/users", |n| {
            json!({"username": format!("bench-online-{n}"), "password": "Bench-Pass-123", "roles": ["program_officer"]})
        }),
    )
    .await;
    // offline users at seeded CHP areas, with the area's CHP as contact
    let areas: Value = http
        .get(format!("{url}{view}?key=%5B%22d_community_health_volunteer_area%22%5D&include_docs=true&reduce=false&limit=20000"))
        .basic_auth("medic", Some("password"))
        .send()
        .await
        .expect("areas")
        .json()
        .await
        .expect("json");
    let pairs: Arc<Vec<(String, String)>> = Arc::new(
        areas["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or("").to_string(),
                    r["doc"]["contact"]["_id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect(),
    );
    let (h, u) = (http.clone(), url.clone());
    phase("POST /api/v3/users (offline CHP at an existing area)", move |n| {
        let (http, url, pairs) = (h.clone(), u.clone(), pairs.clone());
        async move {
            let (place, contact) = &pairs[n % pairs.len()];
            http.post(format!("{url}/api/v3/users"))
                .basic_auth("medic", Some("password"))
                .header("accept", "application/json")
                .json(&json!({"username": format!("bench-chp-{n}"), "password": "Bench-Pass-123",
                              "roles": ["community_health_volunteer"], "place": place, "contact": contact}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    sim.shutdown().await;
}
