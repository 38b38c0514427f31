//! The authorization matrix over real HTTP: every route of the portal's route table
//! (`portal_web::routes::table`) × every built-in role × every position (inside and outside
//! scope, another tenant, another tenant's or instance's id under an allowed path, batches
//! anchored to a sub-county), plus signed out. Each request carries a well-formed body, so the
//! handlers' own checks run, and the exact status is compared with what this file expects,
//! stated here without reading the portal's rules (`expect.rs`). A route added to the table
//! without a case here fails the test.

mod cases;
mod expect;
mod fixture;

use reqwest::{Client, StatusCode, multipart};

use crate::support::{TestApp, csrf_token, http_client};
use crate::world::signed_in;
use cases::{Body, Case, case_for};
use expect::{Actor, Outcome, Position, actors, expected};
use fixture::Fixture;

async fn send(
    app: &TestApp,
    client: &Client,
    method: &reqwest::Method,
    path: &str,
    body: Body,
    token: &str,
) -> (StatusCode, Option<String>) {
    let request = client.request(method.clone(), app.url(path));
    let request = match body {
        Body::None if *method == reqwest::Method::GET => request,
        Body::None => request.form(&[("_csrf", token)]),
        Body::Form(mut fields) => {
            fields.push(("_csrf".to_owned(), token.to_owned()));
            request.form(&fields)
        }
        Body::Upload { file, fields } => {
            let mut form = multipart::Form::new().text("_csrf", token.to_owned());
            for (name, value) in fields {
                form = form.text(name, value);
            }
            let part = multipart::Part::bytes(file.1).file_name(file.0);
            request
                .header("x-csrf-token", token)
                .multipart(form.part("file", part))
        }
    };
    let response = request.send().await.unwrap();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status(), location)
}

fn status_for(outcome: Outcome, case: &Case, actor: &Actor) -> StatusCode {
    let no_access = !actor.platform_admin && actor.holdings.is_empty();
    match outcome {
        Outcome::Allowed if no_access => case.no_access_ok.unwrap_or(case.ok),
        Outcome::Allowed => case.ok,
        Outcome::Foreign => case.foreign,
        Outcome::Forbidden => StatusCode::FORBIDDEN,
        Outcome::NotFound => StatusCode::NOT_FOUND,
    }
}

async fn token_of(app: &TestApp, client: &Client, page: &str) -> String {
    csrf_token(&app.get_with(client, page).await.text().await.unwrap())
        .expect("the page carries a CSRF token")
}

/// The actor's requests, each route at each position that applies to it.
async fn run_actor(
    app: &TestApp,
    f: &Fixture,
    actor: &Actor,
    checked: &mut usize,
    failures: &mut Vec<String>,
) {
    let client = signed_in(app, actor.email).await;
    let token = token_of(app, &client, "/account/password").await;
    for (method, template, case) in cases::cases() {
        for position in Position::for_route(&method, template) {
            let path = f.path(template, position);
            let body = (case.body)(f, position);
            let (status, location) = send(app, &client, &method, &path, body, &token).await;
            let want = status_for(expected(actor, &case, position), &case, actor);
            *checked += 1;
            if status != want {
                failures.push(format!(
                    "{} {method} {path} ({position:?}): expected {want}, got {status}{}",
                    actor.name,
                    location.map(|l| format!(" → {l}")).unwrap_or_default()
                ));
            }
        }
    }
}

#[tokio::test]
async fn every_route_for_every_role_at_every_position_answers_exactly() {
    let app = TestApp::spawn_with(|config| {
        // The matrix signs in and fails sign-ins many times from one address.
        config.login.max_failures_per_address = 10_000;
        config.login.max_failures_per_account = 10_000;
    })
    .await;
    let f = fixture::build(&app).await;
    let table = portal_web::routes::rules();

    // Every route of the table has a case, and every case a route.
    let missing: Vec<String> = table
        .iter()
        .filter(|(m, p, _)| case_for(m, p).is_none())
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a matrix case: {missing:?}"
    );
    let stale: Vec<String> = cases::cases()
        .iter()
        .filter(|(m, p, _)| !table.iter().any(|(tm, tp, _)| tm == m && tp == p))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(
        stale.is_empty(),
        "matrix cases for routes that do not exist: {stale:?}"
    );

    let mut checked = 0;
    let mut failures = Vec::new();
    // The platform administrator goes last: among their allowed requests is signing out.
    for actor in actors() {
        run_actor(&app, &f, &actor, &mut checked, &mut failures).await;
    }

    // Signed out, with a valid pre-session CSRF token: public routes answer, the others send
    // the person to sign in.
    let anonymous = http_client();
    let token = token_of(&app, &anonymous, "/login").await;
    for (method, template, case) in cases::cases() {
        let path = f.path(template, Position::Inside);
        let body = (case.body)(&f, Position::Inside);
        let (status, location) = send(&app, &anonymous, &method, &path, body, &token).await;
        checked += 1;
        let ok = if case.public {
            status == case.anonymous_ok.unwrap_or(case.ok)
        } else {
            status == StatusCode::SEE_OTHER
                && location.as_deref().is_some_and(|l| l.starts_with("/login"))
        };
        if !ok {
            failures.push(format!(
                "signed out {method} {path}: got {status} {location:?}"
            ));
        }
    }
    println!(
        "authorization matrix: {} routes × {} roles × up to {} positions + signed out = {checked} requests",
        table.len(),
        actors().len(),
        Position::ALL.len(),
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
