//! The simulator process: configuration, shared state, the request pipeline and the router.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::watch;

use crate::auth::{self, Auth, Credentials, RateLimiter, UserCtx};
use crate::errors::{ApiError, RenderCtx, prefers_json, render, text_response};
use crate::faults::{Fault, FaultConfig, Faults};
use crate::store::Store;
use crate::version::Version;
use crate::{db, info, people, persist, places, seed, session, sim_admin, users};

/// Body limit of the CHT API.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Where the initial documents come from.
#[derive(Debug, Clone, Default)]
pub enum Seed {
    /// Default settings, no documents.
    #[default]
    Empty,
    /// A deterministic Kenya-shaped hierarchy with `seed_size` places.
    Demo,
    /// A JSON array of documents.
    File(PathBuf),
    /// Documents given in-process.
    Docs(Vec<Value>),
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub admin_user: String,
    pub admin_password: String,
    pub version: Version,
    pub seed: Seed,
    pub seed_size: usize,
    /// Seed of the demo generator and the fault dice.
    pub rng_seed: u64,
    pub faults: FaultConfig,
    pub state_file: Option<PathBuf>,
    /// CHT's login/Basic rate limiter (on by default, as in CHT ≥ 4.6).
    pub rate_limit: bool,
    /// Replaces the app_settings chosen by the seed.
    pub settings: Option<Value>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            admin_user: "medic".into(),
            admin_password: "password".into(),
            version: Version::V5_2,
            seed: Seed::Empty,
            seed_size: 200,
            rng_seed: 20_240_601,
            faults: FaultConfig::default(),
            state_file: None,
            rate_limit: true,
            settings: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("seed: {0}")]
    Seed(String),
    #[error("state file {path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("faults: {0}")]
    Faults(String),
}

pub struct SimInner {
    pub cfg: SimConfig,
    store: RwLock<Store>,
    /// The state right after seeding, restored by `/__sim/reset`.
    initial: Mutex<Store>,
    pub faults: Mutex<Faults>,
    pub limiter: RateLimiter,
    /// Requests received per `METHOD path` (before faults and auth), for `/__sim/stats`: tests
    /// check what a client did or did not send (e.g. no `POST /_session` once it throttles).
    pub request_counts: Mutex<std::collections::BTreeMap<String, u64>>,
    clock_offset_ms: AtomicI64,
    pub secret: String,
    pub shutdown: watch::Receiver<bool>,
}

/// A handle on the simulator's state; cheap to clone.
#[derive(Clone)]
pub struct Sim(Arc<SimInner>);

impl std::ops::Deref for Sim {
    type Target = SimInner;
    fn deref(&self) -> &SimInner {
        &self.0
    }
}

impl Sim {
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn version(&self) -> Version {
        self.cfg.version
    }

    /// Wall clock plus the offset set through `/__sim/clock`.
    pub fn now_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        (wall + self.clock_offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            admin_user: &self.cfg.admin_user,
            admin_password: &self.cfg.admin_password,
            secret: &self.secret,
        }
    }

    /// Restores the post-seed state and forgets rate-limit windows.
    pub fn reset(&self) {
        let initial = self
            .initial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut store = self.write();
        let mutations = store.mutations + 1;
        *store = initial;
        store.mutations = mutations;
        self.limiter.clear();
        self.request_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Checks every permission in `perms`; admins pass.
    pub fn require<'a>(&self, ctx: &'a ReqCtx, perms: &[&str]) -> Result<&'a UserCtx, ApiError> {
        let user = ctx.user()?;
        if self
            .read()
            .settings
            .has_all(&user.roles, perms, self.version())
        {
            Ok(user)
        } else {
            Err(ApiError::insufficient_privileges())
        }
    }
}

/// Everything a handler needs to know about the request, computed once by the pipeline.
#[derive(Debug)]
pub struct ReqCtx {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub auth: Auth,
    pub render: RenderCtx,
    pub ip: IpAddr,
}

impl ReqCtx {
    pub fn user(&self) -> Result<&UserCtx, ApiError> {
        match &self.auth {
            Auth::User(u) => Ok(u),
            _ => Err(ApiError::NotLoggedIn),
        }
    }

    /// Raw CouchDB paths answer an unauthenticated caller in CouchDB's format.
    pub fn couch_user(&self) -> Result<&UserCtx, ApiError> {
        match &self.auth {
            Auth::User(u) => Ok(u),
            Auth::Invalid => Err(ApiError::couch(
                401,
                "unauthorized",
                "Name or password is incorrect.",
            )),
            Auth::Anonymous => Err(ApiError::couch_unauthorized()),
        }
    }

    pub fn is_exact_json(&self) -> bool {
        self.content_type.as_deref() == Some("application/json")
    }

    /// The route-level check of `routing.js`: the header must be exactly `application/json`.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        if !self.is_exact_json() {
            return Err(ApiError::content_type_json());
        }
        self.parse_json()
    }

    pub fn parse_json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

pub fn ok_json(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The Android gateway and collect apps are not treated as humans by `notLoggedIn`.
fn is_human(ua: Option<&str>) -> bool {
    ua.is_some_and(|ua| !ua.is_empty() && !ua.contains("Gateway") && !ua.contains("medic.collect"))
}

/// Rate-limiter keys carried by the request.
fn limiter_keys(ctx: &ReqCtx, basic: Option<&(String, String)>) -> Vec<String> {
    let mut keys = vec![format!("ip:{}", ctx.ip)];
    if let Some((u, p)) = basic {
        keys.push(format!("user:{u}"));
        keys.push(format!("password:{p}"));
    }
    if ctx.is_exact_json()
        && let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&ctx.body)
    {
        if let Some(u) = body.get("user").and_then(Value::as_str) {
            keys.push(format!("user:{u}"));
        }
        if let Some(p) = body.get("password").and_then(Value::as_str) {
            keys.push(format!("password:{p}"));
        }
    }
    keys
}

/// CHT's rate limiter answers through the API's error renderer (contract §5): JSON clients get
/// `{"code":429,"error":"Too Many Requests"}`, others the text.
fn too_many_requests() -> ApiError {
    ApiError::status(429, "Too Many Requests")
}

/// One middleware so the order is explicit: build the context (buffered body, auth,
/// negotiation) → faults → rate limit → handler → render errors → count 401/429 failures.
async fn pipeline(State(sim): State<Sim>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let headers = &parts.headers;
    let path = parts.uri.path().to_string();
    let render_ctx = RenderCtx {
        wants_json: prefers_json(header_str(headers, header::ACCEPT), sim.version()),
        human: is_human(header_str(headers, header::USER_AGENT)),
        original_url: parts
            .uri
            .path_and_query()
            .map_or(path.clone(), |p| p.as_str().to_string()),
        basic_prompt: path == "/api/v1/settings",
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return render(&ApiError::status(413, "Payload Too Large"), &render_ctx),
    };
    let authorization = header_str(headers, header::AUTHORIZATION);
    let basic = authorization.and_then(|h| auth::parse_basic(Some(h)));
    let auth = {
        let store = sim.read();
        auth::resolve(
            &store,
            &sim.credentials(),
            authorization,
            header_str(headers, header::COOKIE),
        )
    };
    let ctx = Arc::new(ReqCtx {
        method: parts.method.clone(),
        path,
        query: parts.uri.query().unwrap_or("").to_string(),
        content_type: header_str(headers, header::CONTENT_TYPE).map(String::from),
        body,
        auth,
        render: render_ctx,
        ip,
    });
    *sim.request_counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(format!("{} {}", ctx.method, ctx.path))
        .or_default() += 1;

    let is_write = matches!(parts.method, Method::POST | Method::PUT | Method::DELETE);
    let raw_db = ctx.path.starts_with("/medic/") && !ctx.path.starts_with("/medic/login")
        || ctx.path.starts_with("/medic-logs/");
    let (delay, fault) = sim
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .decide(is_write);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Timeout) => {
            // Hold the request until the client disconnects (which drops this future) or the
            // simulator shuts down.
            let mut rx = sim.shutdown.clone();
            let _ = rx.wait_for(|stop| *stop).await;
            return text_response(503, "Service Unavailable".into());
        }
        Some(Fault::ServerError) => return render(&ApiError::server_error(), &ctx.render),
        Some(Fault::TooManyRequests) => return render(&too_many_requests(), &ctx.render),
        Some(Fault::Conflict) => {
            let err = if raw_db {
                ApiError::couch_conflict()
            } else {
                ApiError::status(409, "Document update conflict.")
            };
            return render(&err, &ctx.render);
        }
        None => {}
    }

    let keys = if sim.cfg.rate_limit {
        limiter_keys(&ctx, basic.as_ref())
    } else {
        Vec::new()
    };
    let now = sim.now_ms();
    let mut res = if sim.limiter.is_limited(&keys, now) {
        render(&too_many_requests(), &ctx.render)
    } else {
        parts.extensions.insert(ctx.clone());
        let res = next.run(Request::from_parts(parts, Body::empty())).await;
        match res.extensions().get::<Arc<ApiError>>() {
            Some(err) => render(err, &ctx.render),
            None => res,
        }
    };
    let status = res.status().as_u16();
    if status == 401 || status == 429 {
        sim.limiter.consume(&keys, now);
    }
    if status == 401 && !res.headers().contains_key("logout-authorization") && !raw_db {
        res.headers_mut().insert(
            "logout-authorization",
            header::HeaderValue::from_static("CHT-Core API"),
        );
    }
    res
}

/// The CHT routes. Strict routing: no trailing-slash aliases; everything unmatched (and wrong
/// methods) falls through to the simulated CouchDB proxy, as in CHT.
fn cht_router(sim: &Sim) -> Router<Sim> {
    let v52 = sim.version() >= Version::V5_2;
    let mut place = get(people::list_places);
    let mut place_id = get(people::get_place);
    let mut person = get(people::list_people);
    let mut person_id = get(people::get_person);
    if v52 {
        place = place.post(people::create_place);
        place_id = place_id.put(people::replace_place);
        person = person.post(people::create_person);
        person_id = person_id.put(people::replace_person);
    }
    Router::new()
        .route(
            "/_session",
            get(session::get)
                .post(session::post)
                .delete(session::delete),
        )
        .route(
            "/medic/login",
            get(session::login_page).post(session::login),
        )
        .route("/api/info", get(info::info))
        .route("/api/v2/monitoring", get(info::monitoring))
        .route(
            "/api/v1/settings",
            get(info::settings).put(info::put_settings),
        )
        .route("/api/v1/users", get(users::list_v1).post(users::create_v1))
        .route("/api/v2/users", get(users::list_v2).post(users::create_v2))
        .route("/api/v3/users", post(users::create_v3))
        .route("/api/v2/users/{name}", get(users::get_v2))
        .route(
            "/api/v1/users/{name}",
            post(users::update).delete(users::delete),
        )
        .route("/api/v3/users/{name}", post(users::update))
        .route("/api/v1/places", post(places::create))
        .route("/api/v1/places/{id}", post(places::update))
        .route("/api/v1/people", post(places::create_person))
        .route("/api/v1/place", place)
        .route("/api/v1/place/{id}", place_id)
        .route("/api/v1/person", person)
        .route("/api/v1/person/{id}", person_id)
        .route("/api/v1/contact/{id}", get(people::get_contact))
        .route("/medic", get(db::db_info))
        .route("/medic/_all_docs", get(db::all_docs).post(db::all_docs))
        .route("/medic/_bulk_docs", post(db::bulk_docs))
        .route(
            "/medic/_design/medic-client/_view/contacts_by_type",
            get(db::view_contacts_by_type),
        )
        .route(
            "/medic/_design/medic/_view/contacts_by_depth",
            get(db::view_contacts_by_depth),
        )
        .route(
            "/medic/{id}",
            get(db::get_doc).put(db::put_doc).delete(db::delete_doc),
        )
        .route(
            "/medic-logs/_all_docs",
            get(db::logs_all_docs).post(db::logs_all_docs),
        )
        .route("/medic-logs/{id}", get(db::get_log_doc))
        .fallback(db::unknown_route)
        .method_not_allowed_fallback(db::unknown_route)
        .layer(middleware::from_fn_with_state(sim.clone(), pipeline))
}

/// The complete application: CHT routes plus the simulator's own `/__sim` control surface.
pub fn app(sim: Sim) -> Router {
    Router::new()
        .nest("/__sim", sim_admin::router())
        .merge(cht_router(&sim))
        .with_state(sim)
}

pub struct Simulator;

/// A simulator serving on a local port; dropping it without `shutdown` leaves the task running
/// until the runtime ends.
pub struct RunningSim {
    addr: SocketAddr,
    sim: Sim,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    persister: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state, for tests and the portal's dev tooling.
    pub fn state(&self) -> &Sim {
        &self.sim
    }

    /// Stops accepting connections, releases hung requests and writes the state file.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(p) = self.persister {
            let _ = p.await;
        }
    }
}

impl Simulator {
    pub async fn start(cfg: SimConfig) -> Result<RunningSim, StartError> {
        cfg.faults.validate().map_err(StartError::Faults)?;
        let loaded = match &cfg.state_file {
            Some(path) if path.exists() => {
                Some(persist::load(path).map_err(|message| StartError::State {
                    path: path.clone(),
                    message,
                })?)
            }
            _ => None,
        };
        let (initial, secret) = match loaded {
            Some(state) => (state.store, state.secret),
            None => {
                let store = seed::build(&cfg).map_err(StartError::Seed)?;
                (store, util_secret())
            }
        };
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let (stop, shutdown) = watch::channel(false);
        let faults = Faults::new(cfg.faults.clone(), cfg.rng_seed);
        let sim = Sim(Arc::new(SimInner {
            store: RwLock::new(initial.clone()),
            initial: Mutex::new(initial),
            faults: Mutex::new(faults),
            limiter: RateLimiter::default(),
            request_counts: Mutex::default(),
            clock_offset_ms: AtomicI64::new(0),
            secret,
            shutdown: shutdown.clone(),
            cfg,
        }));
        let persister =
            sim.cfg.state_file.clone().map(|path| {
                tokio::spawn(persist::run(sim.clone(), path, Duration::from_millis(500)))
            });
        let service = app(sim.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let mut rx = shutdown;
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, service)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "cht-sim server stopped");
            }
        });
        tracing::info!(%addr, version = %sim.version(), "cht-sim listening");
        Ok(RunningSim {
            addr,
            sim,
            stop,
            server,
            persister,
        })
    }
}

fn util_secret() -> String {
    crate::util::random_id()
}
