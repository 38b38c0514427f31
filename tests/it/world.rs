//! A small tenant world for authorization tests: two tenants, instances with cached places, and
//! people holding each built-in role over different scopes.
//!
//! Tenant A (Kenya): instance I1 with kenya > {nairobi > westlands > ward1, kisumu > ward2}, and
//! instance I2 with kenya2 > mombasa. Tenant B (Uganda): instance J1 with uganda > kampala.

use chrono::Utc;
use portal_crypto::MasterKey;
use portal_domain::{
    BaseUrl, BuiltinRole, Email, InstanceId, InstanceName, RoleKey, ServiceUsername, TenantId,
    TenantName, TenantSlug, UserId,
};
use portal_store::AuditContext;
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use portal_store::places::{self, PlaceRecord};
use portal_store::tenants;
use reqwest::Client;

use crate::support::{ADMIN_PASSWORD, TestApp, http_client};

pub struct World {
    pub a: TenantId,
    pub b: TenantId,
    pub i1: InstanceId,
    pub i2: InstanceId,
    pub j1: InstanceId,
}

fn ctx() -> AuditContext {
    AuditContext::command_line(Utc::now())
}

fn record(id: &str, kind: &str, ancestors: &[&str]) -> PlaceRecord {
    PlaceRecord {
        id: id.to_owned(),
        contact_type: kind.to_owned(),
        name: format!("{}{}", id[..1].to_uppercase(), &id[1..]),
        ancestors: ancestors.iter().map(|s| (*s).to_owned()).collect(),
        properties: serde_json::Map::new(),
    }
}

async fn instance(app: &TestApp, tenant: TenantId, name: &str) -> InstanceId {
    instances::create(
        &app.db,
        &ctx(),
        &master_key(app),
        tenant,
        &InstanceFields {
            name: InstanceName::parse(name).unwrap(),
            // Nothing listens on port 9: connection tests and refreshes fail fast.
            base_url: BaseUrl::parse("http://127.0.0.1:9").unwrap(),
            service_username: ServiceUsername::parse("portal").unwrap(),
            service_password: Some(ServicePassword::parse("service-password-123").unwrap()),
        },
    )
    .await
    .unwrap()
    .id
}

/// The portal's own master key, so instances made here can be used by the running portal.
fn master_key(app: &TestApp) -> MasterKey {
    let path = app.config.data_dir.join("master.key");
    let text = std::fs::read_to_string(path).expect("the test portal wrote its master key");
    MasterKey::from_base64(text.trim()).unwrap()
}

async fn cache(app: &TestApp, tenant: TenantId, instance: InstanceId, records: Vec<PlaceRecord>) {
    let mut types: Vec<String> = records.iter().map(|r| r.contact_type.clone()).collect();
    types.sort();
    types.dedup();
    places::replace_types(&app.db, &ctx(), tenant, instance, &types, records)
        .await
        .unwrap();
}

impl World {
    pub async fn build(app: &TestApp) -> Self {
        let a = tenants::create(
            &app.db,
            &ctx(),
            &TenantSlug::parse("ke").unwrap(),
            &TenantName::parse("Kenya").unwrap(),
        )
        .await
        .unwrap()
        .id;
        let b = tenants::create(
            &app.db,
            &ctx(),
            &TenantSlug::parse("ug").unwrap(),
            &TenantName::parse("Uganda").unwrap(),
        )
        .await
        .unwrap()
        .id;
        let i1 = instance(app, a, "Nairobi").await;
        let i2 = instance(app, a, "Mombasa").await;
        let j1 = instance(app, b, "Kampala").await;
        cache(
            app,
            a,
            i1,
            vec![
                record("kenya", "a_country", &[]),
                record("nairobi", "b_county", &["kenya"]),
                record("kisumu", "b_county", &["kenya"]),
                record("westlands", "c_sub_county", &["kenya", "nairobi"]),
                record("ward1", "d_ward", &["kenya", "nairobi", "westlands"]),
                record("ward2", "d_ward", &["kenya", "kisumu"]),
            ],
        )
        .await;
        cache(
            app,
            a,
            i2,
            vec![
                record("kenya2", "a_country", &[]),
                record("mombasa", "b_county", &["kenya2"]),
            ],
        )
        .await;
        cache(
            app,
            b,
            j1,
            vec![
                record("uganda", "a_country", &[]),
                record("kampala", "b_county", &["uganda"]),
            ],
        )
        .await;
        Self { a, b, i1, i2, j1 }
    }

    pub fn place(&self, instance: InstanceId, id: &str) -> GrantScope {
        GrantScope::Place {
            instance_id: instance,
            place_id: id.to_owned(),
            place_name: id.to_owned(),
        }
    }

    /// A person with a local password holding `role` over `scope` in `tenant`; returns their id.
    pub async fn person(
        &self,
        app: &TestApp,
        email: &str,
        tenant: TenantId,
        role: &str,
        scope: GrantScope,
    ) -> UserId {
        let user = match access::search_users(&app.db, email, 1).await.unwrap().pop() {
            Some(user) if user.email == email => user,
            _ => app.create_user(email, ADMIN_PASSWORD, false, false).await,
        };
        grant(app, tenant, Grantee::Existing(user.id), role, scope).await;
        user.id
    }
}

pub async fn grant(
    app: &TestApp,
    tenant: TenantId,
    grantee: Grantee,
    role: &str,
    scope: GrantScope,
) -> uuid::Uuid {
    access::grant(
        &app.db,
        &ctx(),
        grantee,
        NewGrant {
            tenant_id: tenant,
            role_key: RoleKey::parse(role).unwrap(),
            scope,
            expires_at: None,
        },
    )
    .await
    .unwrap()
    .0
    .id
}

pub fn role(r: BuiltinRole) -> &'static str {
    r.key()
}

/// An invitation by email (no password), as a grant in `tenant`.
pub fn invite(email: &str) -> Grantee {
    Grantee::Invite {
        email: Email::parse(email).unwrap(),
        display_name: email.to_owned(),
    }
}

/// A client signed in with a password.
pub async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = http_client();
    let response = app.login_with(&client, email, ADMIN_PASSWORD).await;
    assert_eq!(
        response.status(),
        reqwest::StatusCode::SEE_OTHER,
        "{email} signs in"
    );
    client
}
