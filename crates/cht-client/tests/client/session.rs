use cht_client::{ChtError, UserUpdate};
use cht_sim::Version;

use crate::common::*;

#[tokio::test]
async fn logs_in_once_and_reuses_the_session() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    let me = c.session_user().await.unwrap();
    assert_eq!(me.name, ADMIN);
    assert!(me.roles.contains(&"_admin".to_string()));
    for _ in 0..3 {
        c.settings().await.unwrap();
    }
    // clones share the session
    c.clone().settings().await.unwrap();
    let s = c.stats();
    assert_eq!(s.logins, 1, "{s:?}");
    assert_eq!(s.retries, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn logs_in_again_when_the_session_is_revoked() {
    let sim = start(Version::V5_2).await;
    let a = admin(&sim);
    let svc = user_client(&sim, &a, "portal_svc", &["program_officer"]).await;
    svc.settings().await.unwrap();
    assert_eq!(svc.stats().logins, 1);
    // Setting the password (to the same value) gives the account a new salt, which
    // invalidates its AuthSession cookie exactly as CouchDB does.
    a.update_user(
        "portal_svc",
        &UserUpdate {
            password: Some(GOOD_PW.into()),
            ..UserUpdate::default()
        },
    )
    .await
    .unwrap();
    let settings = svc.settings().await.expect("re-login is transparent");
    assert!(settings.permissions.contains_key("can_edit"));
    assert_eq!(svc.stats().logins, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_credentials_surface_as_unauthorized_after_one_relogin() {
    let sim = start(Version::V5_2).await;
    let a = admin(&sim);
    let svc = user_client(&sim, &a, "portal_svc", &["program_officer"]).await;
    svc.settings().await.unwrap();
    a.update_user(
        "portal_svc",
        &UserUpdate {
            password: Some("Other-Pw-123".into()),
            ..UserUpdate::default()
        },
    )
    .await
    .unwrap();
    let err = svc.settings().await.unwrap_err();
    match &err {
        ChtError::Unauthorized { endpoint, message } => {
            assert_eq!(endpoint.to_string(), "POST /_session");
            assert!(
                message.contains("Name or password is incorrect"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        !text.contains(GOOD_PW) && !text.contains("Other-Pw-123"),
        "{text}"
    );
    assert_eq!(svc.stats().logins, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_password_is_unauthorized_and_never_printed() {
    let sim = start(Version::V4_22).await;
    let c = client_as(&sim, ADMIN, "wrong-secret-pw");
    let err = c.check_permissions().await.unwrap_err();
    assert!(matches!(err, ChtError::Unauthorized { .. }), "{err:?}");
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{c:?}"),
        format!("{:?}", c.config()),
    ] {
        assert!(!text.contains("wrong-secret-pw"), "{text}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn local_session_loss_triggers_a_fresh_login() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    c.settings().await.unwrap();
    c.forget_session().await;
    c.settings().await.unwrap();
    assert_eq!(c.stats().logins, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn unreachable_instance_names_the_url_and_endpoint() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let c = cht_client::ChtClient::new(config(&base, ADMIN, ADMIN_PW).with_retry(fast_retry(3)))
        .unwrap();
    let err = c.version().await.unwrap_err();
    match &err {
        ChtError::Unreachable { endpoint, url, .. } => {
            assert_eq!(endpoint.to_string(), "GET /api/v2/monitoring");
            assert!(url.starts_with(&base), "{url}");
        }
        other => panic!("{other:?}"),
    }
    // connection refused never reached CHT: retried up to the limit
    assert_eq!(c.stats().attempts, 3);
}
