use std::sync::OnceLock;

use cht_portal::startup;
use portal_config::{Config, SecretString};
use portal_store::Db;
use portal_web::{Application, Clock, ClockControl};
use reqwest::{Client, Response, StatusCode, redirect};
use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_EMAIL: &str = "ada@health.go.ke";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Which database the suite runs on, chosen once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| match std::env::var("PORTAL_TEST_DATABASE").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("PORTAL_TEST_DATABASE must be sqlite or postgres, not {other}"),
    })
}

fn postgres_server() -> String {
    std::env::var("PORTAL_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    pub dir: TempDir,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend() {
            Backend::Sqlite => Self {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("portal.db").display()
                ),
                postgres_name: None,
                dir,
            },
            Backend::Postgres => {
                let name = format!("cht_portal_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(format!("{}/postgres", postgres_server()))
                    .await
                    .expect("PostgreSQL for tests is reachable (PORTAL_TEST_POSTGRES)");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                Self {
                    url: format!("{}/{name}", postgres_server()),
                    postgres_name: Some(name),
                    dir,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let server = postgres_server();
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = Database::connect(format!("{server}/postgres")).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

pub fn base_config(database: &TestDatabase) -> Config {
    Config {
        data_dir: database.dir.path().join("data"),
        database_url: Some(SecretString::new(database.url.clone())),
        ..Config::default()
    }
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub db: Db,
    pub clock: ClockControl,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    pub database: TestDatabase,
}

pub fn http_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .expect("http client")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        init_test_logging();
        let database = TestDatabase::create().await;
        let mut config = base_config(&database);
        adjust(&mut config);
        let (clock, control) = Clock::controllable();
        let state = startup::prepare(&config, clock, true)
            .await
            .expect("portal starts");
        let db = portal_store::connect(&database.url)
            .await
            .expect("test connection");
        let app = Application::bind("127.0.0.1:0".parse().unwrap(), state)
            .await
            .expect("bind");
        let address = format!("http://{}", app.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(app.serve(async move {
            let _ = rx.await;
        }));
        Self {
            address,
            client: http_client(),
            db,
            clock: control,
            config,
            shutdown: Some(tx),
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.post_form_with(&self.client, path, form).await
    }

    pub async fn post_form_with(
        &self,
        client: &Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// Loads `page` and posts `form` to `path` with the CSRF token the page carries.
    pub async fn submit(&self, page: &str, path: &str, form: &[(&str, &str)]) -> Response {
        self.submit_with(&self.client, page, path, form).await
    }

    pub async fn submit_with(
        &self,
        client: &Client,
        page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        let html = self.get_with(client, page).await.text().await.unwrap();
        let token = csrf_token(&html).unwrap_or_else(|| panic!("no CSRF token on {page}:\n{html}"));
        let mut fields = vec![("_csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.post_form_with(client, path, &fields).await
    }

    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        platform_admin: bool,
        must_change: bool,
    ) -> portal_store::users::User {
        portal_store::users::create(
            &self.db,
            &portal_store::AuditContext::command_line(chrono::Utc::now()),
            portal_store::users::NewUser {
                email: portal_domain::Email::parse(email).unwrap(),
                display_name: email.split('@').next().unwrap().to_owned(),
                password_hash: portal_crypto::hash_password(password).unwrap(),
                password_must_change: must_change,
                is_platform_admin: platform_admin,
            },
        )
        .await
        .expect("create user")
    }

    pub async fn login_with(&self, client: &Client, email: &str, password: &str) -> Response {
        self.submit_with(
            client,
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.login_with(&self.client, email, password).await
    }

    /// Signs in on `self.client` and returns the session cookie's value.
    pub async fn login_cookie(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password).await;
        cookie_value(&response, "portal_session").expect("signed in: a session cookie")
    }

    /// A platform administrator, signed in on `self.client`.
    pub async fn signed_in_admin() -> Self {
        let app = Self::spawn().await;
        app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
            .await;
        let response = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "admin signs in");
        app
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        let mut events = portal_store::audit::list_recent(&self.db, 1000)
            .await
            .unwrap();
        events.reverse();
        events.into_iter().map(|e| e.action).collect()
    }

    pub async fn last_audit(&self, action: &str) -> portal_store::entity::audit_event::Model {
        portal_store::audit::list_recent(&self.db, 1000)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("no audit event {action}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn csrf_token(html: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no Location header (status {})", response.status()))
}

pub fn set_cookie_headers(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value the response sets for cookie `name`.
pub fn cookie_value(response: &Response, name: &str) -> Option<String> {
    set_cookie_headers(response).into_iter().find_map(|header| {
        let (pair, _) = header.split_once(';').unwrap_or((&header, ""));
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
    }
}

/// The text of a page with HTML's escapes undone, for assertions on messages with quotes.
pub async fn page_text(response: Response) -> String {
    response
        .text()
        .await
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
