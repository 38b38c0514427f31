//! Giving access at a place id the place cache lacks (`portal_access::delegation`): to a
//! grantor who manages only part of the instance it is outside their area, exactly as a real
//! place elsewhere, so place ids of other areas cannot be probed; one who manages the whole
//! instance is told the place is not in the copy. The same over HTTP, on both databases:
//! tests/it/delegation.rs.

use chrono::Utc;
use portal_access::Principal;
use portal_access::delegation::{DelegationError, give_access};
use portal_crypto::MasterKey;
use portal_domain::{BuiltinRole, Email, InstanceId, RoleKey, TenantId, UserId};
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use portal_store::places::{self, PlaceRecord};
use portal_store::{AuditContext, Db};

fn record(id: &str, ancestors: &[&str]) -> PlaceRecord {
    PlaceRecord {
        id: id.to_owned(),
        contact_type: format!("level_{}", ancestors.len()),
        name: id.to_uppercase(),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties: serde_json::Map::new(),
    }
}

fn place(instance: InstanceId, id: &str) -> GrantScope {
    GrantScope::Place {
        instance_id: instance,
        place_id: id.to_owned(),
        place_name: id.to_owned(),
    }
}

fn invite(email: &str) -> Grantee {
    let email = Email::parse(email).unwrap();
    Grantee::Invite {
        display_name: email.as_str().to_owned(),
        email,
    }
}

fn new_grant(tenant: TenantId, role: BuiltinRole, scope: GrantScope) -> NewGrant {
    NewGrant {
        tenant_id: tenant,
        role_key: RoleKey::builtin(role),
        scope,
        expires_at: None,
    }
}

/// A new person who manages access (region manager) over `scope`.
async fn manager(db: &Db, ctx: &AuditContext, tenant: TenantId, scope: GrantScope) -> Principal {
    let email = format!("{}@example.org", UserId::new());
    let new = new_grant(tenant, BuiltinRole::RegionManager, scope);
    let (_, user) = access::grant(db, ctx, invite(&email), new).await.unwrap();
    Principal {
        user_id: user.id,
        platform_admin: false,
        restricted_to: None,
    }
}

#[tokio::test]
async fn an_unknown_place_is_outside_the_area_unless_the_grantor_sees_the_whole_instance() {
    let (_dir, db) = test_support::sqlite().await;
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &MasterKey::generate(),
        "Nairobi",
        "https://nairobi.example.org",
        ("portal", "a-long-service-password"),
    )
    .await;
    let ctx = AuditContext::command_line(Utc::now());
    let cached = vec![
        record("kenya", &[]),
        record("nairobi", &["kenya"]),
        record("kisumu", &["kenya"]),
    ];
    let types = ["level_0".to_owned(), "level_1".to_owned()];
    places::replace_types(&db, &ctx, tenant, instance, &types, cached)
        .await
        .unwrap();
    let give_at = |by: Principal, at: &str| {
        let (db, ctx) = (&db, &ctx);
        let new = new_grant(tenant, BuiltinRole::MeOfficer, place(instance, at));
        async move { give_access(db, ctx, &by, invite("friend@example.org"), new).await }
    };

    let regional = manager(&db, &ctx, tenant, place(instance, "nairobi")).await;
    for at in ["kisumu", "nowhere"] {
        let refused = give_at(regional.clone(), at).await;
        assert!(
            matches!(refused, Err(DelegationError::OutsideArea)),
            "{at}: {refused:?}"
        );
    }
    let instance_wide = manager(&db, &ctx, tenant, GrantScope::Instance(instance)).await;
    let refused = give_at(instance_wide, "nowhere").await;
    assert!(
        matches!(&refused, Err(DelegationError::ScopeUnavailable(m)) if m.contains("Refresh the places")),
        "{refused:?}"
    );
    assert!(
        access::tenant_grants(&db, tenant, true)
            .await
            .unwrap()
            .iter()
            .all(|l| l.user.email != "friend@example.org"),
        "nothing was given"
    );
}
