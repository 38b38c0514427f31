#![allow(dead_code)]

use cht_sim::{RunningSim, SimConfig, Simulator, Version};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

pub const ADMIN: (&str, &str) = ("medic", "password");
pub const PW: &str = "Secret_12345";

pub struct T {
    pub sim: RunningSim,
    pub url: String,
    pub http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().into_iter().find_map(|c| {
            let first = c.split(';').next()?.to_string();
            first.starts_with(&format!("{name}=")).then_some(first)
        })
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl T {
    pub async fn new() -> T {
        Self::with(SimConfig::default()).await
    }

    pub async fn version(v: Version) -> T {
        Self::with(SimConfig {
            version: v,
            ..SimConfig::default()
        })
        .await
    }

    pub async fn with(cfg: SimConfig) -> T {
        let sim = Simulator::start(cfg).await.expect("simulator starts");
        let url = sim.base_url();
        T {
            sim,
            url,
            http: client(),
        }
    }

    pub fn raw(&self, m: Method, path: &str) -> RequestBuilder {
        self.http.request(m, format!("{}{path}", self.url))
    }

    /// No credentials, `Accept: application/json`.
    pub fn anon(&self, m: Method, path: &str) -> RequestBuilder {
        self.raw(m, path).header("accept", "application/json")
    }

    pub fn admin(&self, m: Method, path: &str) -> RequestBuilder {
        self.as_user(m, path, ADMIN.0, ADMIN.1)
    }

    pub fn as_user(&self, m: Method, path: &str, user: &str, pass: &str) -> RequestBuilder {
        self.anon(m, path).basic_auth(user, Some(pass))
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.admin(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        send(self.admin(Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        send(self.admin(Method::PUT, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        send(self.admin(Method::DELETE, path)).await
    }

    /// A place through the legacy endpoint; returns its id.
    pub async fn place(&self, body: Value) -> String {
        let r = self.post("/api/v1/places", body).await;
        assert_eq!(r.status, 200, "place create: {}", r.text);
        r.json["id"].as_str().expect("id").to_string()
    }

    pub async fn person(&self, name: &str, place: &str) -> String {
        let r = self
            .post("/api/v1/people", json!({"name": name, "place": place}))
            .await;
        assert_eq!(r.status, 200, "person create: {}", r.text);
        r.json["id"].as_str().expect("id").to_string()
    }

    /// district_hospital > health_center > clinic, with a person under the clinic.
    pub async fn hierarchy(&self) -> Hier {
        let dh = self
            .place(json!({"name": "Kisumu District", "type": "district_hospital"}))
            .await;
        let hc = self
            .place(json!({"name": "Kisumu HC", "type": "health_center", "parent": dh}))
            .await;
        let clinic = self
            .place(json!({"name": "Kondele", "type": "clinic", "parent": hc}))
            .await;
        let person = self.person("Akinyi Otieno", &clinic).await;
        Hier {
            dh,
            hc,
            clinic,
            person,
        }
    }

    /// Creates a user through `POST /api/v1/users`, asserting success.
    pub async fn user(&self, body: Value) -> Resp {
        let r = self.post("/api/v1/users", body).await;
        assert_eq!(r.status, 200, "user create: {}", r.text);
        r
    }

    /// An online program officer (holds the user-management permissions) with a known password.
    pub async fn officer(&self, name: &str) {
        self.user(json!({"username": name, "password": PW, "roles": ["program_officer"], "password_change_required": false}))
            .await;
    }

    /// An offline chw at `h.clinic` with `h.person` as contact.
    pub async fn chw(&self, name: &str, h: &Hier) {
        self.user(json!({"username": name, "password": PW, "roles": ["chw"], "place": h.clinic, "contact": h.person, "password_change_required": false}))
            .await;
    }

    pub async fn doc(&self, id: &str) -> Value {
        let r = self.get(&format!("/medic/{id}")).await;
        assert_eq!(r.status, 200, "GET /medic/{id}: {}", r.text);
        r.json
    }

    /// The `_users` doc through the simulator's dump (CHT has no API for it).
    pub async fn users_doc(&self, name: &str) -> Option<Value> {
        let r = send(self.raw(Method::GET, "/__sim/docs?db=_users&include_deleted=true")).await;
        r.json.as_array().and_then(|a| {
            a.iter()
                .find(|d| d["_id"] == format!("org.couchdb.user:{name}"))
                .cloned()
        })
    }
}

pub struct Hier {
    pub dh: String,
    pub hc: String,
    pub clinic: String,
    pub person: String,
}

pub async fn send(rb: RequestBuilder) -> Resp {
    let res = rb.send().await.expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        json,
    }
}

/// The error member of a JSON envelope as `(message, translationKey)`.
pub fn err_msg(r: &Resp) -> String {
    match &r.json["error"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o["message"].as_str().unwrap_or("").to_string(),
        _ => String::new(),
    }
}

pub fn err_key(r: &Resp) -> String {
    r.json["error"]["translationKey"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
