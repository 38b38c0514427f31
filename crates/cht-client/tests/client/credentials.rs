//! `check_credentials`: one `POST /_session` with someone's own credentials, nothing kept.

use cht_client::{CredentialCheck, Secret};
use cht_sim::Version;

use crate::common::*;

#[tokio::test]
async fn accepts_right_refuses_wrong_and_keeps_no_session() {
    let sim = start(Version::V5_2).await;
    let a = admin(&sim);
    user_client(&sim, &a, "chv_amina", &["program_officer"]).await;
    // Any client of the instance will do: the service account is not used for the check.
    let checker = admin(&sim);
    let right = checker
        .check_credentials("chv_amina", &Secret::new(GOOD_PW))
        .await
        .unwrap();
    assert!(matches!(right, CredentialCheck::Accepted(ref u) if u.name == "chv_amina"));
    let wrong = checker
        .check_credentials("chv_amina", &Secret::new("not-it"))
        .await
        .unwrap();
    assert_eq!(wrong, CredentialCheck::Refused);
    let unknown = checker
        .check_credentials("nobody", &Secret::new(GOOD_PW))
        .await
        .unwrap();
    assert_eq!(unknown, CredentialCheck::Refused);
    let stats = checker.stats();
    // Three checks, three requests: no retry, no login of the service account, no session kept.
    assert_eq!(
        (stats.attempts, stats.retries, stats.logins),
        (3, 0, 0),
        "{stats:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_instance_is_an_error_not_a_refusal() {
    let sim = start(Version::V5_2).await;
    let base = sim.base_url();
    sim.shutdown().await;
    let checker = cht_client::ChtClient::new(config(&base, ADMIN, ADMIN_PW)).unwrap();
    let answer = checker
        .check_credentials("chv_amina", &Secret::new(GOOD_PW))
        .await;
    assert!(
        matches!(answer, Err(cht_client::ChtError::Unreachable { .. })),
        "{answer:?}"
    );
    assert_eq!(checker.stats().attempts, 1);
}
