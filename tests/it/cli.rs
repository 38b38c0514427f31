//! The `cht-portal` binary itself, as an operator runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;

use crate::support::*;

fn portal(database: &TestDatabase, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cht-portal"));
    command
        .args(args)
        .current_dir(database.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("PORTAL_DATA_DIR", database.dir.path().join("data"))
        .env("PORTAL_LOG__FILTER", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run cht-portal");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn admin_create_prints_a_one_time_password_that_signs_in() {
    let app = TestApp::spawn().await;
    let output = portal(
        &app.database,
        &[
            "admin",
            "create",
            "--email",
            "Grace@Health.go.ke",
            "--name",
            "Grace Hopper",
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("Created platform administrator grace@health.go.ke (Grace Hopper)."),
        "{out}"
    );
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("One-time password: "))
        .expect("the password is printed")
        .to_owned();
    assert!(
        !stderr(&output).contains(&password),
        "the password is not logged"
    );

    let response = app.login("grace@health.go.ke", &password).await;
    assert_eq!(
        location(&response),
        "/account/password",
        "one-time: must be changed"
    );
    let event = app.last_audit("user.created").await;
    assert_eq!(event.actor_label, "command line");
    assert_eq!(event.details["platform_admin"], true);
}

#[tokio::test]
async fn admin_create_can_read_the_password_from_stdin() {
    let app = TestApp::spawn().await;
    let output = portal(
        &app.database,
        &[
            "admin",
            "create",
            "--email",
            "ops@health.go.ke",
            "--password-stdin",
        ],
        Some("a long chosen passphrase\n"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("One-time password"));
    let response = app
        .login("ops@health.go.ke", "a long chosen passphrase")
        .await;
    assert_eq!(
        location(&response),
        "/",
        "no forced change for a chosen password"
    );

    let weak = portal(
        &app.database,
        &[
            "admin",
            "create",
            "--email",
            "weak@health.go.ke",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(
        stderr(&weak)
            .contains("--password-stdin: The password must be at least 12 characters long"),
        "{}",
        stderr(&weak)
    );
}

#[tokio::test]
async fn admin_create_refuses_a_duplicate_or_malformed_email() {
    let app = TestApp::spawn().await;
    assert!(
        portal(
            &app.database,
            &["admin", "create", "--email", "dup@health.go.ke"],
            None
        )
        .status
        .success()
    );
    let again = portal(
        &app.database,
        &["admin", "create", "--email", "DUP@health.go.ke"],
        None,
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("A portal user with the email dup@health.go.ke already exists."),
        "{}",
        stderr(&again)
    );
    let bad = portal(
        &app.database,
        &["admin", "create", "--email", "not-an-email"],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("--email: \"not-an-email\" has no @"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn migrate_applies_the_schema_to_a_fresh_database() {
    let database = TestDatabase::create().await;
    let output = portal(&database, &["migrate"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "Applied {} migrations;",
            <portal_migrations::Migrator as portal_migrations::MigratorTrait>::migrations().len()
        )),
        "{}",
        stdout(&output)
    );
    let again = portal(&database, &["migrate"], None);
    assert!(stdout(&again).contains("Applied 0 migrations;"));
}

#[tokio::test]
async fn configuration_errors_name_the_key_and_the_variable() {
    let database = TestDatabase::create().await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_cht-portal"));
    let output = command
        .args(["migrate"])
        .current_dir(database.dir.path())
        .env("PORTAL_SESSION__IDLE_TIMEOUT_MINUTES", "half an hour")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("`session.idle_timeout_minutes`")
            && message.contains("PORTAL_SESSION__IDLE_TIMEOUT_MINUTES"),
        "{message}"
    );

    std::fs::write(database.dir.path().join("portal.toml"), "listen = 8080\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cht-portal"))
        .args(["--config", "portal.toml", "migrate"])
        .current_dir(database.dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("key `listen`") && message.contains("portal.toml"),
        "{message}"
    );
}

#[tokio::test]
async fn serve_listens_where_told_and_answers_health_checks() {
    let database = TestDatabase::create().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cht-portal"))
        .args(["serve", "--listen", &address.to_string()])
        .current_dir(database.dir.path())
        .env("DATABASE_URL", &database.url)
        .env("PORTAL_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = http_client();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("http://{address}/readyz")).send().await {
            ready = Some(response.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = client.get(format!("http://{address}/login")).send().await;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = stderr(&output);
    assert_eq!(ready, Some(StatusCode::OK), "{logs}");
    let request_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("serving on"))
        })
        .unwrap_or_else(|| panic!("JSON log lines expected:\n{logs}"));
    assert_eq!(request_line["level"], "INFO");
    assert!(
        database.dir.path().join("data/master.key").exists(),
        "a development key was generated"
    );
}

#[tokio::test]
async fn serve_in_production_needs_an_https_public_url() {
    let database = TestDatabase::create().await;
    let key = portal_crypto::MasterKey::generate().to_base64();
    let serve = |public_url: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cht-portal"));
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(database.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database.url)
            .env("PORTAL_ENVIRONMENT", "production")
            .env("PORTAL_MASTER_KEY", &key);
        if let Some(url) = public_url {
            command.env("PORTAL_PUBLIC_URL", url);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A portal that wrongly starts serves until stopped.
        for _ in 0..100 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        child.wait_with_output().unwrap()
    };

    let output = serve(None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("key `public_url` (environment variable PORTAL_PUBLIC_URL) is required when `environment` is production"),
        "{message}"
    );

    let output = serve(Some("http://portal.health.go.ke"));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("PORTAL_PUBLIC_URL") && message.contains("must start with https://"),
        "{message}"
    );
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "create", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_cht-portal"))
            .args(&args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: cht-portal"),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn admin_unlock_lifts_a_sign_in_lock() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    for _ in 0..5 {
        app.login_with(&http_client(), ADMIN_EMAIL, "wrong password")
            .await;
    }
    assert_eq!(
        app.login_with(&http_client(), ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let output = portal(
        &app.database,
        &["admin", "unlock", "--email", "ADA@health.go.ke"],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("Sign-in for ada@health.go.ke is unlocked."));
    assert_eq!(
        app.login_with(&http_client(), ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.last_audit("auth.account_unlocked").await.details["email"],
        ADMIN_EMAIL
    );
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/deploy-config/tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn config_check_accepts_the_shared_deployment_configs() {
    let database = TestDatabase::create().await;
    for (file, types, profile) in [
        (
            "chis-ke.config.json",
            "c_community_health_unit, d_community_health_volunteer_area",
            "Deployment profile: the built-in CHIS-KE profile (recognised from the contact types",
        ),
        (
            "chis-ug.config.json",
            "c50-health_center",
            "Deployment profile: no deployment profile.",
        ),
    ] {
        let path = fixture(file);
        let output = portal(
            &database,
            &["config", "check", path.to_str().unwrap()],
            None,
        );
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        assert!(stdout(&output).contains(types), "{}", stdout(&output));
        assert!(stdout(&output).contains(profile), "{}", stdout(&output));
    }
}

#[tokio::test]
async fn config_check_reports_every_problem_with_its_json_path() {
    let database = TestDatabase::create().await;
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("chis-ug.config.json")).unwrap()).unwrap();
    let vht = &mut config["contact_types"][0];
    vht["place_properties"][3]["parameter"] = serde_json::json!("^[a-z");
    vht["hierarchy"][0]["level"] = serde_json::json!(4);
    vht["contact_properties"][3]["parameter"] = serde_json::json!("XX");
    let broken = database.dir.path().join("broken.json");
    std::fs::write(&broken, serde_json::to_vec(&config).unwrap()).unwrap();

    let output = portal(
        &database,
        &["config", "check", "--json", broken.to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let problems: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let paths: Vec<&str> = problems
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for expected in [
        "$.contact_types[0].place_properties[3].parameter",
        "$.contact_types[0].contact_properties[3].parameter",
        "$.contact_types[0].hierarchy",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    assert!(
        problems
            .iter()
            .all(|p| !p["reason"].as_str().unwrap().is_empty() && p["severity"] == "error")
    );
    // Without --json the same problems go to stderr, one per line.
    let human = portal(
        &database,
        &["config", "check", broken.to_str().unwrap()],
        None,
    );
    assert_eq!(human.status.code(), Some(1));
    assert!(stderr(&human).contains("$.contact_types[0].place_properties[3].parameter: "));

    let missing = portal(
        &database,
        &["config", "check", "/nonexistent/config.json"],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read"));
}

#[tokio::test]
async fn config_check_accepts_a_regex_without_error_description_with_a_warning() {
    let database = TestDatabase::create().await;
    let path = fixture("togo-style.config.json");
    let human = portal(
        &database,
        &["config", "check", path.to_str().unwrap()],
        None,
    );
    assert_eq!(human.status.code(), Some(0), "{}", stderr(&human));
    assert!(stdout(&human).contains("valid"), "{}", stdout(&human));
    let warning =
        "warning: $.contact_types[1].place_properties[1].errorDescription: \"Code du village\"";
    assert!(stderr(&human).contains(warning), "{}", stderr(&human));
    assert!(
        stderr(&human).contains("Not a valid Code du village: expected text matching the pattern"),
        "{}",
        stderr(&human)
    );

    let json = portal(
        &database,
        &["config", "check", "--json", path.to_str().unwrap()],
        None,
    );
    assert_eq!(json.status.code(), Some(0));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&json)).unwrap();
    let found: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["severity"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "warning",
                "$.contact_types[0].place_properties[1].errorDescription"
            ),
            (
                "warning",
                "$.contact_types[1].place_properties[1].errorDescription"
            ),
        ]
    );
}

#[tokio::test]
async fn text_logs_written_to_a_file_carry_no_colour_codes() {
    let database = TestDatabase::create().await;
    let log_path = database.dir.path().join("portal.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_cht-portal"))
        .arg("migrate")
        .current_dir(database.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("PORTAL_DATA_DIR", database.dir.path().join("data"))
        .env("PORTAL_LOG__FORMAT", "text")
        .env("PORTAL_LOG__FILTER", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .status()
        .unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{logs}");
    assert!(logs.contains("database schema is up to date"), "{logs}");
    assert!(
        !logs.contains("\x1b["),
        "colour codes in the log file: {logs:?}"
    );
}
