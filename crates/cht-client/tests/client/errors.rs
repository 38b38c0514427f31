use cht_client::{ChtError, NewUser, UserPlace, parse_error_body};
use cht_sim::Version;

use crate::common::*;

#[tokio::test]
async fn object_error_carries_message_and_translation_key() {
    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    let weak = NewUser {
        username: "mary".into(),
        password: Some("password".into()),
        roles: vec!["national_admin".into()],
        ..NewUser::default()
    };
    let err = c.create_user(weak).await.unwrap_err();
    match &err {
        ChtError::Validation {
            message,
            translation_key,
            endpoint,
            ..
        } => {
            assert!(
                message.starts_with("The password is too easy to guess"),
                "{message}"
            );
            assert_eq!(translation_key.as_deref(), Some("password.weak"));
            assert_eq!(endpoint.to_string(), "POST /api/v3/users");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains("\"password\""));

    let ok = NewUser {
        username: "mary".into(),
        password: Some(GOOD_PW.into()),
        roles: vec!["national_admin".into()],
        ..NewUser::default()
    };
    c.create_user(ok.clone()).await.unwrap();
    let err = c.create_user(ok).await.unwrap_err();
    match &err {
        ChtError::Validation {
            translation_key,
            params,
            ..
        } => {
            assert_eq!(translation_key.as_deref(), Some("username.taken"));
            assert_eq!(
                params
                    .as_ref()
                    .and_then(|p| p.get("username"))
                    .and_then(|u| u.as_str()),
                Some("mary")
            );
        }
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn string_error_is_mapped_by_status() {
    let sim = start(Version::V4_22).await;
    let c = admin(&sim);
    let u = NewUser {
        username: "kim".into(),
        password: Some(GOOD_PW.into()),
        roles: vec!["national_admin".into()],
        place: Some(UserPlace::Existing(vec!["nope".into()])),
        ..NewUser::default()
    };
    let err = c.create_user(u).await.unwrap_err();
    match &err {
        ChtError::NotFound { message, .. } => assert_eq!(message, "Failed to find place nope"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.translation_key(), None);
    let err = c.get_user("ghost").await.unwrap_err();
    assert!(
        matches!(&err, ChtError::NotFound { message, .. } if message.contains("Failed to find user with name [ghost]")),
        "{err:?}"
    );
    assert!(c.get_user_opt("ghost").await.unwrap().is_none());
    sim.shutdown().await;
}

/// The text/plain form only appears for clients that do not ask for JSON; fetch it raw from
/// the simulator and check the parser keeps CHT's message.
#[tokio::test]
async fn text_plain_form_parses() {
    let sim = start(Version::V5_2).await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/people", sim.base_url()))
        .basic_auth(ADMIN, Some(ADMIN_PW))
        .header("content-type", "application/json; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let body = parse_error_body(&res.bytes().await.unwrap());
    assert_eq!(body.message, "Content-Type must be application/json");
    assert_eq!(body.translation_key, None);
    sim.shutdown().await;
}
