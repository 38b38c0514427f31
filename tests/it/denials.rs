//! Authorization refusals reach the audit trail: who, which route, which target; and a loop of
//! refusals writes a bounded number of rows, with the rest counted.

use chrono::Duration;
use portal_domain::BuiltinRole;
use reqwest::StatusCode;

use crate::support::TestApp;
use crate::world::{World, role, signed_in};

async fn denials(app: &TestApp) -> Vec<portal_store::entity::audit_event::Model> {
    let mut events: Vec<_> = portal_store::audit::list_recent(&app.db, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "access.denied")
        .collect();
    events.reverse();
    events
}

#[tokio::test]
async fn a_refusal_is_audited_with_actor_route_and_target() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let me = w
        .person(
            &app,
            "me@health.go.ke",
            w.a,
            role(BuiltinRole::MeOfficer),
            w.place(w.i1, "nairobi"),
        )
        .await;
    let client = signed_in(&app, "me@health.go.ke").await;

    // Refused by the route's rule: an M&E officer may not stage.
    let path = format!("/tenants/{}/instances/{}/staging", w.a, w.i1);
    let response = app.get_with(&client, &path).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Refused by a handler's own check: the place-scoped officer lists people only with `grant`.
    let people = format!("/tenants/{}/access/people?q=a", w.a);
    assert_eq!(
        app.get_with(&client, &people).await.status(),
        StatusCode::FORBIDDEN
    );
    // Another tenant: answered 404, recorded all the same.
    let other = format!("/tenants/{}", w.b);
    assert_eq!(
        app.get_with(&client, &other).await.status(),
        StatusCode::NOT_FOUND
    );
    // Allowed requests are not refusals.
    let allowed = format!("/tenants/{}", w.a);
    assert_eq!(
        app.get_with(&client, &allowed).await.status(),
        StatusCode::OK
    );

    let events = denials(&app).await;
    let staging = &events[0];
    assert_eq!(staging.actor_user_id, Some(me.into()));
    assert_eq!(staging.actor_label, "me@health.go.ke");
    assert_eq!(staging.tenant_id, Some(w.a.into()));
    assert_eq!(staging.details["method"], "GET");
    assert_eq!(
        staging.details["route"],
        "/tenants/{tenant_id}/instances/{instance_id}/staging"
    );
    assert_eq!(staging.details["path"], path);
    assert_eq!(staging.details["params"]["instance_id"], w.i1.to_string());
    assert_eq!(staging.details["status"], 403);
    assert!(staging.request_id.is_some());

    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(
        events[1].details["route"],
        "/tenants/{tenant_id}/access/people"
    );
    // The query string (a search for a person's name) is not recorded.
    assert_eq!(
        events[1].details["path"],
        format!("/tenants/{}/access/people", w.a)
    );
    let cross = events.last().unwrap();
    assert_eq!(cross.details["status"], 404);
    // The other tenant's trail shows the attempt on it.
    assert_eq!(cross.tenant_id, Some(w.b.into()));
}

#[tokio::test]
async fn a_loop_of_refusals_writes_a_bounded_number_of_events() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "me@health.go.ke",
        w.a,
        role(BuiltinRole::MeOfficer),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let client = signed_in(&app, "me@health.go.ke").await;
    let path = format!("/tenants/{}/config", w.a);
    for _ in 0..40 {
        assert_eq!(
            app.get_with(&client, &path).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let events = denials(&app).await;
    assert_eq!(events.len(), 10, "ten events a minute per person");
    assert!(
        events
            .iter()
            .all(|e| e.details.get("suppressed_before").is_none())
    );

    // A minute later the next refusal is recorded, and says how many were left out.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        app.get_with(&client, &path).await.status(),
        StatusCode::FORBIDDEN
    );
    let events = denials(&app).await;
    assert_eq!(events.len(), 11);
    assert_eq!(events[10].details["suppressed_before"], 30);
}

#[tokio::test]
async fn a_place_outside_the_area_answers_like_an_unknown_one_and_is_audited() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    w.person(
        &app,
        "me@health.go.ke",
        w.a,
        role(BuiltinRole::MeOfficer),
        w.place(w.i1, "nairobi"),
    )
    .await;
    let client = signed_in(&app, "me@health.go.ke").await;
    let place = |id: &str| format!("/tenants/{}/instances/{}/places/{id}", w.a, w.i1);
    // The page text, without the request id that every error page shows.
    let answer = |id: &'static str| {
        let (app, client, path) = (&app, &client, place(id));
        async move {
            let response = app.get_with(client, &path).await;
            let status = response.status();
            let request_id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let text = response.text().await.unwrap().replace(&request_id, "");
            (status, text)
        }
    };

    assert_eq!(answer("westlands").await.0, StatusCode::OK);
    let outside = answer("kisumu").await;
    let unknown = answer("no-such-place").await;
    assert_eq!(outside.0, StatusCode::NOT_FOUND);
    assert_eq!(
        outside, unknown,
        "an existing place outside the area is not told apart"
    );

    // The attempt on the existing place is a refusal in the trail; the unknown id is not.
    let events = denials(&app).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].details["path"], place("kisumu"));
    assert_eq!(events[0].details["status"], 404);
}
