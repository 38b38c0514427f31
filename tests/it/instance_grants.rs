//! Deleting a CHT instance revokes the access given over it: the grants stay as history,
//! revoked and audited, and every portal process on the database stops honouring them at once.

use portal_domain::BuiltinRole;
use portal_store::access::{self, GrantScope};
use reqwest::{Client, StatusCode};
use sea_orm::EntityTrait;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, cookie_value, location};
use crate::world::{World, role};

/// Another portal process on the same database (its own policy cache); returns its address.
async fn second_process(app: &TestApp) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let state = cht_portal::startup::prepare(&app.config, portal_web::Clock::system(), false)
        .await
        .unwrap();
    let second = portal_web::Application::bind("127.0.0.1:0".parse().unwrap(), state)
        .await
        .unwrap();
    let address = format!("http://{}", second.local_addr().unwrap());
    (address, tokio::spawn(second.serve(std::future::pending())))
}

/// A client without a cookie store: each request carries the session it is given.
fn plain_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn status_at(client: &Client, address: &str, path: &str, session: &str) -> StatusCode {
    client
        .get(format!("{address}{path}"))
        .header("cookie", format!("portal_session={session}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn deleting_an_instance_revokes_its_grants_which_every_process_honours_at_once() {
    let app = TestApp::signed_in_admin().await;
    let w = World::build(&app).await;
    let manager = w
        .person(
            &app,
            "county@health.go.ke",
            w.a,
            role(BuiltinRole::RegionManager),
            w.place(w.i1, "nairobi"),
        )
        .await;
    let elsewhere = w
        .person(
            &app,
            "coast@health.go.ke",
            w.a,
            role(BuiltinRole::RegionManager),
            GrantScope::Instance(w.i2),
        )
        .await;
    let manager_client = crate::support::http_client();
    let login = app
        .login_with(&manager_client, "county@health.go.ke", ADMIN_PASSWORD)
        .await;
    let session = cookie_value(&login, "portal_session").expect("the manager signs in");

    // Both processes have built the tenant's policy, with the manager in it.
    let (second, server) = second_process(&app).await;
    let plain = plain_client();
    let tenant_page = format!("/tenants/{}", w.a);
    assert_eq!(
        status_at(&plain, &app.address, &tenant_page, &session).await,
        StatusCode::OK
    );
    assert_eq!(
        status_at(&plain, &second, &tenant_page, &session).await,
        StatusCode::OK
    );
    let held = access::tenant_grants(&app.db, w.a, false).await.unwrap();
    let grant_id = held
        .iter()
        .find(|g| g.user.id == manager)
        .expect("the manager's grant")
        .grant
        .id;

    let page = format!("/tenants/{}/instances/{}", w.a, w.i1);
    let deleted = app
        .submit(
            &page,
            &format!("{page}/delete"),
            &[("confirm_name", "Nairobi")],
        )
        .await;
    assert_eq!(
        location(&deleted),
        format!("/tenants/{}?notice=instance-deleted", w.a)
    );

    // The grant outlives the instance, revoked by the administrator who deleted it.
    let admin = access::search_users(&app.db, ADMIN_EMAIL, 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let kept = access::tenant_grants(&app.db, w.a, true).await.unwrap();
    let revoked = kept
        .iter()
        .find(|g| g.grant.id == grant_id)
        .expect("the grant row is still there");
    assert!(revoked.grant.revoked_at.is_some());
    assert_eq!(
        revoked.grant.scope,
        w.place(w.i1, "nairobi"),
        "it still says where it applied"
    );
    let row = portal_store::entity::grant::Entity::find_by_id(grant_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.revoked_by, Some(admin.id.as_uuid()));
    // Access over another instance is untouched.
    assert!(
        kept.iter()
            .any(|g| g.user.id == elsewhere && g.grant.revoked_at.is_none())
    );

    let event = app.last_audit("access.revoked").await;
    assert_eq!(
        event.target_id.as_deref(),
        Some(grant_id.to_string().as_str())
    );
    assert_eq!(event.details["reason"], "instance deleted");
    assert_eq!(event.details["instance_name"], "Nairobi");
    assert_eq!(event.actor_label, ADMIN_EMAIL);

    // Neither process lets the manager in any more: each noticed the revision move.
    assert_eq!(
        status_at(&plain, &second, &tenant_page, &session).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_at(&plain, &app.address, &tenant_page, &session).await,
        StatusCode::NOT_FOUND
    );

    // The access page copes with a grant whose instance is gone, and it cannot be revoked twice.
    let access_page = format!("/tenants/{}/access", w.a);
    let listing = app.get(&access_page).await;
    assert_eq!(listing.status(), StatusCode::OK);
    let html = listing.text().await.unwrap();
    assert!(
        !html.contains("county@health.go.ke"),
        "revoked access is not listed"
    );
    assert!(html.contains("coast@health.go.ke"));
    let again = app
        .submit(
            &access_page,
            &format!("{access_page}/{grant_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    server.abort();
}
