//! Simulator start-up, the `/__sim` control surface, and a response-dropping proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cht_client::{ChtClient, ChtConfig, NewPerson, NewPlace, RetryPolicy};
use cht_sim::{RunningSim, SimConfig, Simulator, Version};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const ADMIN: &str = "medic";
pub const ADMIN_PW: &str = "password";
/// Scores ≥ 50 under CHT's password rules.
pub const GOOD_PW: &str = "Abcd1234!x";

pub async fn start(version: Version) -> RunningSim {
    Simulator::start(SimConfig {
        version,
        // Fault bursts of 429 would otherwise trip CHT's per-IP limiter for the whole test.
        rate_limit: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// Fast retries so fault tests stay well under a second each.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(2),
    }
}

pub fn config(base: &str, user: &str, pw: &str) -> ChtConfig {
    ChtConfig::new(base, user, pw)
        .unwrap()
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .with_retry(fast_retry(4))
}

pub fn admin(sim: &RunningSim) -> ChtClient {
    ChtClient::new(config(&sim.base_url(), ADMIN, ADMIN_PW)).unwrap()
}

pub fn client_as(sim: &RunningSim, user: &str, pw: &str) -> ChtClient {
    ChtClient::new(config(&sim.base_url(), user, pw)).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// `POST /__sim/faults` (merge).
pub async fn set_faults(sim: &RunningSim, faults: Value) {
    let res = http()
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

pub async fn clear_faults(sim: &RunningSim) {
    http()
        .delete(format!("{}/__sim/faults", sim.base_url()))
        .send()
        .await
        .unwrap();
}

/// `GET /__sim/docs?db=…`.
pub async fn sim_docs(sim: &RunningSim, db: &str, include_deleted: bool) -> Vec<Value> {
    http()
        .get(format!(
            "{}/__sim/docs?db={db}&include_deleted={include_deleted}",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn count_docs_named(sim: &RunningSim, name: &str) -> usize {
    sim_docs(sim, "medic", false)
        .await
        .iter()
        .filter(|d| d.get("name").and_then(Value::as_str) == Some(name))
        .count()
}

pub async fn count_users(sim: &RunningSim, username: &str) -> usize {
    let id = format!("org.couchdb.user:{username}");
    sim_docs(sim, "_users", false)
        .await
        .iter()
        .filter(|d| d.get("_id").and_then(Value::as_str) == Some(&id))
        .count()
}

/// A district hospital `dh1`, a health centre `hc1` under it and a person `p1` in `hc1`.
pub async fn seed_hierarchy(c: &ChtClient) {
    c.create_place(&NewPlace {
        id: Some("dh1".into()),
        name: "District One".into(),
        contact_type: "district_hospital".into(),
        ..NewPlace::default()
    })
    .await
    .unwrap();
    c.create_place(&NewPlace {
        id: Some("hc1".into()),
        name: "Health Centre One".into(),
        contact_type: "health_center".into(),
        parent: Some("dh1".into()),
        ..NewPlace::default()
    })
    .await
    .unwrap();
    c.create_person(&NewPerson {
        id: Some("p1".into()),
        name: "Pat One".into(),
        place: Some("hc1".into()),
        ..NewPerson::default()
    })
    .await
    .unwrap();
}

/// Creates a user through the admin client and returns it logged in as its own client.
pub async fn user_client(
    sim: &RunningSim,
    admin: &ChtClient,
    username: &str,
    roles: &[&str],
) -> ChtClient {
    let user = cht_client::NewUser {
        username: username.into(),
        password: Some(GOOD_PW.into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        password_change_required: Some(false),
        ..Default::default()
    };
    admin.create_user(user).await.expect("create user");
    client_as(sim, username, GOOD_PW)
}

/// A TCP proxy in front of the simulator that can swallow responses: the request reaches CHT
/// and is applied, but the client sees the connection close — an unknown outcome.
pub struct LossyProxy {
    pub addr: SocketAddr,
    drop_next: Arc<AtomicU32>,
}

impl LossyProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let drop_next = Arc::new(AtomicU32::new(0));
        let d = drop_next.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let d = d.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    pipe(client, server, d).await;
                });
            }
        });
        Self { addr, drop_next }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` responses are read from CHT and then thrown away with the connection.
    pub fn drop_responses(&self, n: u32) {
        self.drop_next.store(n, Ordering::SeqCst);
    }
}

async fn pipe(client: TcpStream, server: TcpStream, drop_next: Arc<AtomicU32>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let swallow = drop_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                    .is_ok();
                if swallow {
                    break;
                }
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    up.abort();
}
