use cht_client::{ChtError, Permission, UserFilter};
use cht_sim::Version;

use crate::common::*;

#[tokio::test]
async fn admin_lacks_nothing() {
    let sim = start(Version::V5_2).await;
    let r = admin(&sim).check_permissions().await.unwrap();
    assert_eq!(r.username, ADMIN);
    assert!(r.is_admin && r.online && r.missing.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn program_officer_has_what_a_portal_needs() {
    let sim = start(Version::V5_2).await;
    let a = admin(&sim);
    let po = user_client(&sim, &a, "po_svc", &["program_officer"]).await;
    let r = po.check_permissions().await.unwrap();
    assert!(!r.is_admin);
    assert!(r.roles.contains(&"mm-online".to_string()), "{:?}", r.roles);
    assert_eq!(r.missing, Vec::<Permission>::new());
    assert!(r.is_sufficient());
    sim.shutdown().await;
}

#[tokio::test]
async fn data_entry_account_lacks_user_and_place_permissions_by_name() {
    for v in [Version::V4_22, Version::V5_2] {
        let sim = start(v).await;
        let a = admin(&sim);
        let de = user_client(&sim, &a, "de_svc", &["data_entry"]).await;
        let r = de.check_permissions().await.unwrap();
        let names: Vec<&str> = r.missing.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "can_edit",
                "can_create_users",
                "can_update_users",
                "can_delete_users",
                "can_view_users",
                "can_create_places",
                "can_update_places",
                "can_create_people",
            ]
        );
        assert!(r.online && !r.is_sufficient());
        // and CHT agrees: the call is refused, with the required permission named
        let err = de.list_users(&UserFilter::default()).await.unwrap_err();
        match err {
            ChtError::Forbidden {
                message,
                missing_permissions,
                endpoint,
            } => {
                assert_eq!(message, "Insufficient privileges");
                assert_eq!(missing_permissions, vec!["can_view_users".to_string()]);
                assert_eq!(endpoint.to_string(), "GET /api/v2/users");
            }
            other => panic!("{other:?}"),
        }
        sim.shutdown().await;
    }
}
