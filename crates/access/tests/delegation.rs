//! The delegation rules (`portal_access::delegation`) against a real (SQLite) portal database:
//! the attacks of issue 9 — a temporary national administrator who also holds `grant` for good
//! hands out lasting access, or widens a role someone holds for good — and changes to one's own
//! access. The same rules over HTTP, on both databases: tests/it/delegation.rs; random chains:
//! tests/it/delegation_chains.rs.

use chrono::{DateTime, Duration, Utc};
use portal_access::delegation::{self, DelegationError};
use portal_access::{Authorizer, Holding, Principal, Target};
use portal_crypto::MasterKey;
use portal_domain::{
    BuiltinRole, Email, InstanceId, Permission, PermissionSet, RoleKey, TenantId, UserId,
};
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use portal_store::places::{self, PlaceRecord};
use portal_store::{AuditContext, Db};

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    tenant: TenantId,
    instance: InstanceId,
    now: DateTime<Utc>,
}

/// The platform administrator, who starts every chain of delegation.
static ROOT: std::sync::LazyLock<Principal> = std::sync::LazyLock::new(|| Principal {
    user_id: UserId::new(),
    platform_admin: true,
    restricted_to: None,
});

fn person(user_id: UserId) -> Principal {
    Principal {
        user_id,
        platform_admin: false,
        restricted_to: None,
    }
}

fn key(raw: &str) -> RoleKey {
    RoleKey::parse(raw).unwrap()
}

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
    let record = |id: &str, ancestors: &[&str]| PlaceRecord {
        id: id.to_owned(),
        contact_type: format!("level_{}", ancestors.len()),
        name: id.to_uppercase(),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties: serde_json::Map::new(),
    };
    places::replace_types(
        &db,
        &AuditContext::command_line(Utc::now()),
        tenant,
        instance,
        &["level_0".to_owned(), "level_1".to_owned()],
        vec![record("kenya", &[]), record("nairobi", &["kenya"])],
    )
    .await
    .unwrap();
    World {
        _dir: dir,
        db,
        tenant,
        instance,
        now: Utc::now(),
    }
}

impl World {
    fn ctx(&self, by: &Principal) -> AuditContext {
        AuditContext {
            actor_user_id: (!by.platform_admin).then_some(by.user_id),
            ..AuditContext::command_line(self.now)
        }
    }

    fn nairobi(&self) -> GrantScope {
        GrantScope::Place {
            instance_id: self.instance,
            place_id: "nairobi".to_owned(),
            place_name: "Nairobi".to_owned(),
        }
    }

    /// Invites `email` and gives them `role` over `scope` as the platform administrator.
    async fn holder(
        &self,
        email: &str,
        role: &str,
        scope: GrantScope,
        ends: Option<DateTime<Utc>>,
    ) -> UserId {
        self.give(&ROOT, invite(email), role, scope, ends)
            .await
            .unwrap()
            .user_id
    }

    async fn give(
        &self,
        by: &Principal,
        to: Grantee,
        role: &str,
        scope: GrantScope,
        ends: Option<DateTime<Utc>>,
    ) -> Result<access::Grant, DelegationError> {
        delegation::give_access(
            &self.db,
            &self.ctx(by),
            by,
            to,
            NewGrant {
                tenant_id: self.tenant,
                role_key: key(role),
                scope,
                expires_at: ends,
            },
        )
        .await
        .map(|(grant, _)| grant)
    }

    async fn save_role(
        &self,
        by: &Principal,
        role: &str,
        permissions: &[Permission],
    ) -> Result<(), DelegationError> {
        delegation::save_role(
            &self.db,
            &self.ctx(by),
            by,
            self.tenant,
            &key(role),
            role,
            &PermissionSet::new(permissions.iter().copied()),
        )
        .await
    }

    /// A person who manages access for good (a tenant role of only `grant`) and is national
    /// administrator for 7 days: the attacker of issue 9.
    async fn temporary_national_admin(&self) -> (Principal, DateTime<Utc>) {
        self.save_role(&ROOT, "access_lead", &[Permission::Grant])
            .await
            .unwrap();
        let user = self
            .holder("lead@x.org", "access_lead", GrantScope::Tenant, None)
            .await;
        let week = self.now + Duration::days(7);
        self.give(
            &ROOT,
            Grantee::Existing(user),
            "national_admin",
            GrantScope::Tenant,
            Some(week),
        )
        .await
        .unwrap();
        (person(user), week)
    }
}

fn invite(email: &str) -> Grantee {
    Grantee::Invite {
        email: Email::parse(email).unwrap(),
        display_name: email.to_owned(),
    }
}

#[tokio::test]
async fn a_temporary_national_administrator_cannot_hand_out_lasting_access() {
    let w = world().await;
    let (lead, week) = w.temporary_national_admin().await;

    // To themselves, by account or by email: refused whatever the end date.
    for to in [Grantee::Existing(lead.user_id), invite("lead@x.org")] {
        let own = w
            .give(&lead, to, "national_admin", GrantScope::Tenant, None)
            .await;
        assert!(matches!(own, Err(DelegationError::OwnAccess(_))), "{own:?}");
    }

    // To someone else without an end: refused, naming what ends and when.
    let forever = w
        .give(
            &lead,
            invite("friend@x.org"),
            "national_admin",
            GrantScope::Tenant,
            None,
        )
        .await;
    let Err(refusal @ DelegationError::OutlivesGrantor { until, .. }) = forever else {
        panic!("a grant without end from a 7-day administrator: {forever:?}");
    };
    assert_eq!(until, week);
    let message = refusal.to_string();
    let day = week.format("%Y-%m-%d").to_string();
    assert!(
        message.contains(&format!("ends on {day}")) && message.contains("'manage_config'"),
        "{message}"
    );
    // A narrower role of permissions held only through national_admin: refused the same way.
    let region = w
        .give(
            &lead,
            invite("friend@x.org"),
            "region_manager",
            w.nairobi(),
            None,
        )
        .await;
    assert!(
        matches!(region, Err(DelegationError::OutlivesGrantor { until, .. }) if until == week),
        "{region:?}"
    );
    // The day their own access ends means "until then"; the day after is refused.
    let that_day = week.date_naive().and_hms_opt(23, 59, 59).unwrap().and_utc();
    let given = w
        .give(
            &lead,
            invite("friend@x.org"),
            "national_admin",
            GrantScope::Tenant,
            Some(that_day),
        )
        .await
        .unwrap();
    assert_eq!(given.expires_at, Some(week));
    let later = w
        .give(
            &lead,
            invite("friend2@x.org"),
            "national_admin",
            GrantScope::Tenant,
            Some(that_day + Duration::days(1)),
        )
        .await;
    assert!(matches!(
        later,
        Err(DelegationError::OutlivesGrantor { .. })
    ));
    // What they hold for good, they may give for good.
    let lasting = w
        .give(
            &lead,
            invite("deputy@x.org"),
            "access_lead",
            GrantScope::Tenant,
            None,
        )
        .await
        .unwrap();
    assert_eq!(lasting.expires_at, None);

    // A second after the lead's week, the friend holds nothing of national_admin.
    let authz = Authorizer::new(w.db.clone());
    authz.sync().await.unwrap();
    let friend = person(given.user_id);
    for (at, expected) in [
        (week - Duration::seconds(1), true),
        (week + Duration::seconds(1), false),
    ] {
        assert_eq!(
            authz
                .allowed(
                    &friend,
                    w.tenant,
                    &Target::Tenant,
                    Permission::ManageConfig,
                    at
                )
                .await
                .unwrap(),
            expected,
            "at {at}"
        );
    }
}

#[tokio::test]
async fn widening_a_role_needs_its_new_permissions_for_as_long_as_its_holders_hold_it() {
    let w = world().await;
    let (lead, week) = w.temporary_national_admin().await;
    w.save_role(&ROOT, "clerk", &[Permission::ViewDashboard])
        .await
        .unwrap();
    w.save_role(&ROOT, "temp_clerk", &[Permission::ViewDashboard])
        .await
        .unwrap();
    w.holder("clerk@x.org", "clerk", w.nairobi(), None).await;
    w.holder(
        "temp@x.org",
        "temp_clerk",
        w.nairobi(),
        Some(w.now + Duration::days(3)),
    )
    .await;

    // The clerk holds the role for good; the lead holds manage_config for a week.
    let widened = w
        .save_role(
            &lead,
            "clerk",
            &[Permission::ViewDashboard, Permission::ManageConfig],
        )
        .await;
    let Err(refusal @ DelegationError::OutlivesEditor { editor_ends, .. }) = widened else {
        panic!("widening a lasting role from a 7-day administrator: {widened:?}");
    };
    assert_eq!(editor_ends, Holding::Until(week));
    let message = refusal.to_string();
    assert!(
        message.contains("clerk@x.org")
            && message.contains("'manage_config'")
            && message.contains(&week.format("%Y-%m-%d").to_string()),
        "{message}"
    );
    // What the lead holds for good may be added to it …
    w.save_role(
        &lead,
        "clerk",
        &[Permission::ViewDashboard, Permission::Grant],
    )
    .await
    .unwrap();
    // … and a role whose holders' access ends within the lead's week may be widened.
    w.save_role(
        &lead,
        "temp_clerk",
        &[Permission::ViewDashboard, Permission::ManageConfig],
    )
    .await
    .unwrap();

    // A role one holds oneself is neither changed nor deleted, not even to narrow it.
    assert!(matches!(
        w.save_role(
            &lead,
            "access_lead",
            &[Permission::Grant, Permission::ViewAudit]
        )
        .await,
        Err(DelegationError::OwnAccess(_))
    ));
    let own_delete =
        delegation::delete_role(&w.db, &w.ctx(&lead), &lead, w.tenant, &key("access_lead")).await;
    assert!(
        matches!(own_delete, Err(DelegationError::OwnAccess(_))),
        "{own_delete:?}"
    );
}

#[tokio::test]
async fn deleting_a_role_needs_the_same_right_as_changing_it() {
    let w = world().await;
    w.save_role(&ROOT, "access_lead", &[Permission::Grant])
        .await
        .unwrap();
    w.save_role(&ROOT, "it_officer", &[Permission::ManageConfig])
        .await
        .unwrap();
    let lead = person(
        w.holder("lead@x.org", "access_lead", GrantScope::Tenant, None)
            .await,
    );
    // `grant` on the tenant is not enough: the role allows manage_config, which they lack.
    let refused =
        delegation::delete_role(&w.db, &w.ctx(&lead), &lead, w.tenant, &key("it_officer")).await;
    assert!(
        matches!(&refused, Err(DelegationError::RoleBeyondEditor { missing }) if missing.contains(Permission::ManageConfig)),
        "{refused:?}"
    );
    assert_eq!(
        access::custom_roles(&w.db, w.tenant).await.unwrap().len(),
        2
    );
    delegation::delete_role(&w.db, &w.ctx(&ROOT), &ROOT, w.tenant, &key("it_officer"))
        .await
        .unwrap();
}

#[tokio::test]
async fn nobody_revokes_their_own_access() {
    let w = world().await;
    let national = w
        .holder("national@x.org", "national_admin", GrantScope::Tenant, None)
        .await;
    let own = access::tenant_grants(&w.db, w.tenant, false)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.user.id == national)
        .unwrap()
        .grant;
    let by = person(national);
    let refused = delegation::revoke_access(&w.db, &w.ctx(&by), &by, w.tenant, own.id).await;
    assert!(
        matches!(refused, Err(DelegationError::OwnAccess(_))),
        "{refused:?}"
    );
    // Someone else who manages access there may.
    let other = person(
        w.holder("other@x.org", "national_admin", GrantScope::Tenant, None)
            .await,
    );
    delegation::revoke_access(&w.db, &w.ctx(&other), &other, w.tenant, own.id)
        .await
        .unwrap();
    // A region manager of Nairobi cannot revoke a tenant-wide grant.
    let region = person(
        w.holder(
            "region@x.org",
            BuiltinRole::RegionManager.key(),
            w.nairobi(),
            None,
        )
        .await,
    );
    let other_grant = access::tenant_grants(&w.db, w.tenant, false)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.user.id == other.user_id)
        .unwrap()
        .grant;
    assert!(matches!(
        delegation::revoke_access(&w.db, &w.ctx(&region), &region, w.tenant, other_grant.id).await,
        Err(DelegationError::OutsideArea)
    ));
}
