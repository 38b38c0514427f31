//! The authorizer against a real (SQLite) portal database: grants, scopes on the hierarchy,
//! expiry, revocation seen by a second process, custom roles, and places that move.

use chrono::{Duration, Utc};
use portal_access::{Authorizer, InstanceView, Principal, Target};
use portal_crypto::MasterKey;
use portal_domain::PlaceScope;
use portal_domain::{
    BuiltinRole, Email, InstanceId, Permission, PermissionSet, RoleKey, TenantId, UserId,
    place_path,
};
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use portal_store::places::{self, PlaceRecord};
use portal_store::{AuditContext, Db};

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    tenant: TenantId,
    instance: InstanceId,
}

fn ctx() -> AuditContext {
    AuditContext::command_line(Utc::now())
}

fn record(id: &str, kind: &str, ancestors: &[&str]) -> PlaceRecord {
    PlaceRecord {
        id: id.to_owned(),
        contact_type: kind.to_owned(),
        name: id.to_uppercase(),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties: serde_json::Map::new(),
    }
}

/// kenya > {nairobi > westlands > ward1, kisumu > ward2}
fn hierarchy() -> Vec<PlaceRecord> {
    vec![
        record("kenya", "a_country", &[]),
        record("nairobi", "b_county", &["kenya"]),
        record("kisumu", "b_county", &["kenya"]),
        record("westlands", "c_sub_county", &["kenya", "nairobi"]),
        record("ward1", "d_ward", &["kenya", "nairobi", "westlands"]),
        record("ward2", "d_ward", &["kenya", "kisumu"]),
    ]
}

const TYPES: [&str; 4] = ["a_country", "b_county", "c_sub_county", "d_ward"];

async fn world() -> World {
    let (dir, db) = test_support::sqlite().await;
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &MasterKey::generate(),
        "Nairobi",
        "https://nairobi.example.org",
        ("portal", "a-long-service-password"),
    )
    .await;
    places::replace_types(
        &db,
        &ctx(),
        tenant,
        instance,
        &TYPES.map(str::to_owned),
        hierarchy(),
    )
    .await
    .unwrap();
    World {
        _dir: dir,
        db,
        tenant,
        instance,
    }
}

impl World {
    async fn grant(
        &self,
        email: &str,
        role: RoleKey,
        scope: GrantScope,
        expires: Option<Duration>,
    ) -> (uuid::Uuid, Principal) {
        let (grant, user) = access::grant(
            &self.db,
            &ctx(),
            Grantee::Invite {
                email: Email::parse(email).unwrap(),
                display_name: email.to_owned(),
            },
            NewGrant {
                tenant_id: self.tenant,
                role_key: role,
                scope,
                expires_at: expires.map(|d| Utc::now() + d),
            },
        )
        .await
        .unwrap();
        (grant.id, principal(user.id))
    }

    fn place_scope(&self, id: &str) -> GrantScope {
        GrantScope::Place {
            instance_id: self.instance,
            place_id: id.to_owned(),
            place_name: id.to_uppercase(),
        }
    }

    async fn target(&self, id: &str) -> Target {
        let place = places::get(&self.db, self.instance, id)
            .await
            .unwrap()
            .unwrap();
        Target::Place {
            instance_id: self.instance,
            place_id: place.id,
            lineage: place.lineage,
        }
    }
}

fn principal(user_id: UserId) -> Principal {
    Principal {
        user_id,
        platform_admin: false,
        restricted_to: None,
    }
}

fn role(r: BuiltinRole) -> RoleKey {
    RoleKey::builtin(r)
}

#[tokio::test]
async fn scopes_follow_the_place_hierarchy() {
    let w = world().await;
    let (_, county) = w
        .grant(
            "county@x.org",
            role(BuiltinRole::RegionManager),
            w.place_scope("nairobi"),
            None,
        )
        .await;
    let authz = Authorizer::new(w.db.clone());
    authz.sync().await.unwrap();
    let now = Utc::now();
    let allowed = |target: Target, p: Permission| {
        let authz = &authz;
        let county = county.clone();
        async move {
            authz
                .allowed(&county, w.tenant, &target, p, now)
                .await
                .unwrap()
        }
    };
    assert!(allowed(w.target("nairobi").await, Permission::Stage).await);
    assert!(allowed(w.target("ward1").await, Permission::Commit).await);
    assert!(
        !allowed(w.target("ward2").await, Permission::Stage).await,
        "sibling county"
    );
    assert!(
        !allowed(w.target("kenya").await, Permission::Stage).await,
        "the parent"
    );
    assert!(!allowed(Target::Instance(w.instance), Permission::Stage).await);
    assert!(
        !allowed(w.target("ward1").await, Permission::ManageInstances).await,
        "not in role"
    );
    assert!(!allowed(Target::Tenant, Permission::Grant).await);
    // Another tenant: nothing.
    assert!(
        !authz
            .allowed(
                &county,
                TenantId::new(),
                &w.target("ward1").await,
                Permission::Stage,
                now
            )
            .await
            .unwrap()
    );
    assert_eq!(
        authz
            .instance_view(&county, w.tenant, w.instance, Some(Permission::Stage), now)
            .await
            .unwrap(),
        InstanceView::Places(PlaceScope::Subtrees(vec!["nairobi".into()]))
    );
    assert_eq!(
        authz
            .instance_view(
                &county,
                w.tenant,
                w.instance,
                Some(Permission::ManageConfig),
                now
            )
            .await
            .unwrap(),
        InstanceView::Nothing
    );
}

#[tokio::test]
async fn national_admin_holds_the_tenant_and_me_officer_only_reads() {
    let w = world().await;
    let (_, national) = w
        .grant(
            "nat@x.org",
            role(BuiltinRole::NationalAdmin),
            GrantScope::Tenant,
            None,
        )
        .await;
    let (_, me) = w
        .grant(
            "me@x.org",
            role(BuiltinRole::MeOfficer),
            GrantScope::Instance(w.instance),
            None,
        )
        .await;
    let authz = Authorizer::new(w.db.clone());
    authz.sync().await.unwrap();
    let now = Utc::now();
    let everything = authz
        .permissions_at(&national, w.tenant, &Target::Tenant, now)
        .await
        .unwrap();
    assert_eq!(everything, PermissionSet::new(Permission::ALL));
    let reads = authz
        .permissions_at(&me, w.tenant, &w.target("ward2").await, now)
        .await
        .unwrap();
    assert_eq!(
        reads,
        PermissionSet::new([Permission::ViewAudit, Permission::ViewDashboard])
    );
    assert!(authz.is_member(&me, w.tenant, now).await.unwrap());
    let restricted = Principal {
        restricted_to: Some(TenantId::new()),
        ..national.clone()
    };
    assert!(!authz.is_member(&restricted, w.tenant, now).await.unwrap());
}

#[tokio::test]
async fn revocation_and_expiry_take_effect_in_every_process() {
    let w = world().await;
    let (grant_id, manager) = w
        .grant(
            "m@x.org",
            role(BuiltinRole::RegionManager),
            w.place_scope("kisumu"),
            Some(Duration::hours(1)),
        )
        .await;
    // Two portal processes on one database.
    let first = Authorizer::new(w.db.clone());
    let second = Authorizer::new(w.db.clone());
    let ward2 = w.target("ward2").await;
    let now = Utc::now();
    for authz in [&first, &second] {
        authz.sync().await.unwrap();
        assert!(
            authz
                .allowed(&manager, w.tenant, &ward2, Permission::Stage, now)
                .await
                .unwrap()
        );
        // An hour and a minute later the grant has expired, though nothing was reloaded.
        let later = now + Duration::minutes(61);
        assert!(
            !authz
                .allowed(&manager, w.tenant, &ward2, Permission::Stage, later)
                .await
                .unwrap()
        );
    }
    access::revoke(&w.db, &ctx(), w.tenant, grant_id)
        .await
        .unwrap();
    for authz in [&first, &second] {
        authz.sync().await.unwrap();
        assert!(
            !authz
                .allowed(&manager, w.tenant, &ward2, Permission::Stage, now)
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn a_place_moved_out_of_a_subtree_leaves_its_scope() {
    let w = world().await;
    let (_, manager) = w
        .grant(
            "m@x.org",
            role(BuiltinRole::RegionManager),
            w.place_scope("westlands"),
            None,
        )
        .await;
    let authz = Authorizer::new(w.db.clone());
    authz.sync().await.unwrap();
    let now = Utc::now();
    assert!(
        authz
            .allowed(
                &manager,
                w.tenant,
                &w.target("ward1").await,
                Permission::Stage,
                now
            )
            .await
            .unwrap()
    );
    // CHT moved ward1 under kisumu; the next refresh of wards records its new lineage.
    places::replace_types(
        &w.db,
        &ctx(),
        w.tenant,
        w.instance,
        &["d_ward".to_owned()],
        vec![
            record("ward1", "d_ward", &["kenya", "kisumu"]),
            record("ward2", "d_ward", &["kenya", "kisumu"]),
        ],
    )
    .await
    .unwrap();
    authz.sync().await.unwrap();
    let moved = w.target("ward1").await;
    assert_eq!(
        moved,
        Target::Place {
            instance_id: w.instance,
            place_id: "ward1".into(),
            lineage: place_path::lineage(["kenya", "kisumu"]),
        }
    );
    assert!(
        !authz
            .allowed(&manager, w.tenant, &moved, Permission::Stage, now)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn tenant_roles_are_named_sets_of_permissions() {
    let w = world().await;
    let clerk = RoleKey::parse("data_clerk").unwrap();
    access::save_role(
        &w.db,
        &ctx(),
        w.tenant,
        &clerk,
        "Data clerk",
        &PermissionSet::new([Permission::Stage]),
    )
    .await
    .unwrap();
    let (_, person) = w
        .grant(
            "c@x.org",
            clerk.clone(),
            GrantScope::Instance(w.instance),
            None,
        )
        .await;
    let authz = Authorizer::new(w.db.clone());
    authz.sync().await.unwrap();
    let now = Utc::now();
    let ward = w.target("ward1").await;
    assert!(
        authz
            .allowed(&person, w.tenant, &ward, Permission::Stage, now)
            .await
            .unwrap()
    );
    assert!(
        !authz
            .allowed(&person, w.tenant, &ward, Permission::Commit, now)
            .await
            .unwrap()
    );
    // Widening the role widens every holder's access at once.
    access::save_role(
        &w.db,
        &ctx(),
        w.tenant,
        &clerk,
        "Data clerk",
        &PermissionSet::new([Permission::Stage, Permission::Commit]),
    )
    .await
    .unwrap();
    authz.sync().await.unwrap();
    assert!(
        authz
            .allowed(&person, w.tenant, &ward, Permission::Commit, now)
            .await
            .unwrap()
    );
    // Built-in roles cannot be redefined; a role in use cannot be deleted.
    assert!(
        access::save_role(
            &w.db,
            &ctx(),
            w.tenant,
            &role(BuiltinRole::MeOfficer),
            "x",
            &PermissionSet::default()
        )
        .await
        .is_err()
    );
    assert!(
        access::delete_role(&w.db, &ctx(), w.tenant, &clerk)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn casbin_cannot_write_policies_behind_the_grants_table() {
    use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};
    let w = world().await;
    let model = DefaultModel::from_str(portal_access::MODEL).await.unwrap();
    let mut enforcer = Enforcer::new(
        model,
        portal_access::adapter::GrantsAdapter::new(w.db.clone(), w.tenant, Utc::now()),
    )
    .await
    .unwrap();
    let added = enforcer
        .add_policy(vec![
            "u:x".into(),
            w.tenant.to_string(),
            "*".into(),
            "role:national_admin".into(),
            String::new(),
        ])
        .await;
    assert!(
        added.is_err(),
        "a policy was written around the grants table"
    );
}
