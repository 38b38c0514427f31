//! The world the matrix runs in: two tenants, people holding each built-in role, and objects
//! (revoked grants, roles, batches) to aim at, chosen so that an allowed request changes nothing
//! the next one depends on.

use chrono::Utc;
use portal_domain::{
    BuiltinRole, InstanceId, Permission, PermissionSet, RoleKey, RowStatus, TenantId,
};
use portal_store::AuditContext;
use portal_store::access::GrantScope;
use portal_store::staging::{self, NewBatch, RowRecord};

use super::expect::Position;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use crate::world::{World, grant, invite, role};

pub struct Fixture {
    pub world: World,
    pub kenya_config: String,
    batch_i1: uuid::Uuid,
    batch_i2: uuid::Uuid,
    batch_j1: uuid::Uuid,
    batch_nairobi: uuid::Uuid,
    batch_kisumu: uuid::Uuid,
    grant_inside: uuid::Uuid,
    grant_outside: uuid::Uuid,
    grant_other: uuid::Uuid,
    provider: uuid::Uuid,
    asset: String,
}

pub const CONTACT_TYPE: &str = "d_community_health_volunteer_area";
/// A role that exists only in tenant B.
pub const B_ONLY_ROLE: &str = "b_only_role";

fn ctx() -> AuditContext {
    AuditContext::command_line(Utc::now())
}

fn master_key(app: &TestApp) -> portal_crypto::MasterKey {
    let text = std::fs::read_to_string(app.config.data_dir.join("master.key")).unwrap();
    portal_crypto::MasterKey::from_base64(text.trim()).unwrap()
}

async fn batch(
    app: &TestApp,
    tenant: TenantId,
    instance: InstanceId,
    anchors: &[&str],
) -> uuid::Uuid {
    staging::create_batch(
        &app.db,
        &ctx(),
        NewBatch {
            tenant_id: tenant,
            instance_id: instance,
            contact_type: CONTACT_TYPE.into(),
            file_name: "matrix.csv".into(),
            anchors: anchors.iter().map(|a| (*a).to_owned()).collect(),
            notices: vec![],
            upload_header: None,
        },
        portal_domain::RowCounts {
            valid: 1,
            warning: 0,
            error: 0,
        },
        [RowRecord {
            idx: 0,
            line: 2,
            status: RowStatus::Valid,
            raw: ["", "Westlands", "", "Mary Wanjiku", "0712345678", ""]
                .map(str::to_owned)
                .to_vec(),
            problems: vec![],
            warnings: vec![],
            acknowledged: false,
            extra: vec![],
            place: None,
            depends_on: None,
        }]
        .into_iter(),
    )
    .await
    .unwrap()
    .id
}

pub async fn build(app: &TestApp) -> Fixture {
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    let world = World::build(app).await;
    let w = &world;
    let people = [
        (
            "national@health.go.ke",
            BuiltinRole::NationalAdmin,
            GrantScope::Tenant,
        ),
        (
            "county@health.go.ke",
            BuiltinRole::RegionManager,
            GrantScope::Instance(w.i1),
        ),
        (
            "subcounty@health.go.ke",
            BuiltinRole::RegionManager,
            w.place(w.i1, "nairobi"),
        ),
        (
            "me@health.go.ke",
            BuiltinRole::MeOfficer,
            w.place(w.i1, "nairobi"),
        ),
    ];
    for (email, builtin, scope) in people {
        w.person(app, email, w.a, role(builtin), scope).await;
    }
    app.create_user("nobody@health.go.ke", ADMIN_PASSWORD, false, false)
        .await;
    // Revoked grants to aim revocations at: an allowed revocation answers 409 and changes
    // nothing, so one portal serves the whole matrix.
    let mut revoked = Vec::new();
    for (tenant, scope) in [
        (w.a, w.place(w.i1, "westlands")),
        (w.a, w.place(w.i1, "ward2")),
        (w.b, w.place(w.j1, "kampala")),
    ] {
        let id = grant(
            app,
            tenant,
            invite("former@health.go.ke"),
            role(BuiltinRole::MeOfficer),
            scope,
        )
        .await;
        portal_store::access::revoke(&app.db, &ctx(), tenant, id)
            .await
            .unwrap();
        revoked.push(id);
    }
    // A custom role held in each tenant (deleting it is refused with 409; saving it unchanged
    // is allowed and changes nothing), and one that exists only in tenant B.
    for (tenant, key) in [(w.a, "held_role"), (w.b, "held_role"), (w.b, B_ONLY_ROLE)] {
        portal_store::access::save_role(
            &app.db,
            &ctx(),
            tenant,
            &RoleKey::parse(key).unwrap(),
            "Held",
            &PermissionSet::new([Permission::ViewAudit]),
        )
        .await
        .unwrap();
        grant(
            app,
            tenant,
            invite("holder@health.go.ke"),
            key,
            GrantScope::Tenant,
        )
        .await;
    }
    // A sign-in provider nobody can reach: starting a sign-in answers 502.
    let provider = portal_store::oidc::save_provider(
        &app.db,
        &master_key(app),
        &ctx(),
        w.a,
        portal_store::oidc::ProviderFields {
            display_name: "Kenya MoH".into(),
            issuer_url: "http://127.0.0.1:9".into(),
            client_id: "portal".into(),
            client_secret: Some("secret".into()),
            enabled: true,
        },
    )
    .await
    .unwrap()
    .id;
    // Tenant B signs in through a provider too, so every invitation of the matrix gives the
    // invitee a way in and answers alike (without one, the answer is a page with a sign-in link).
    portal_store::oidc::save_provider(
        &app.db,
        &master_key(app),
        &ctx(),
        w.b,
        portal_store::oidc::ProviderFields {
            display_name: "Uganda MoH".into(),
            issuer_url: "http://127.0.0.1:9".into(),
            client_id: "portal".into(),
            client_secret: Some("secret".into()),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let kenya_config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/deploy-config/tests/fixtures/chis-ke.config.json"
    ))
    .unwrap();
    for tenant in [w.a, w.b] {
        staging::save_config(
            &app.db,
            &ctx(),
            tenant,
            &kenya_config,
            serde_json::json!({}),
        )
        .await
        .unwrap();
    }
    let login = app.get("/login").await.text().await.unwrap();
    let asset = login
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with("app.css"))
        .expect("the sign-in page links its stylesheet")
        .to_owned();
    Fixture {
        batch_i1: batch(app, w.a, w.i1, &[]).await,
        batch_i2: batch(app, w.a, w.i2, &[]).await,
        batch_j1: batch(app, w.b, w.j1, &[]).await,
        batch_nairobi: batch(app, w.a, w.i1, &["nairobi"]).await,
        batch_kisumu: batch(app, w.a, w.i1, &["kisumu"]).await,
        world,
        kenya_config,
        grant_inside: revoked[0],
        grant_outside: revoked[1],
        grant_other: revoked[2],
        provider,
        asset,
    }
}

impl Fixture {
    pub fn tenant(&self, position: Position) -> TenantId {
        match position {
            Position::OtherTenant => self.world.b,
            _ => self.world.a,
        }
    }

    /// A grant scope for the access form: the place the position names.
    pub fn grant_scope(&self, position: Position) -> String {
        let w = &self.world;
        match position {
            Position::Outside => format!("place:{}:ward2", w.i1),
            Position::OtherTenant | Position::ForeignTenantId => format!("place:{}:kampala", w.j1),
            _ => format!("place:{}:westlands", w.i1),
        }
    }

    pub fn path(&self, template: &str, position: Position) -> String {
        let w = &self.world;
        if template == "/assets/{version}/{name}" {
            return self.asset.clone();
        }
        // Place routes stay in the place's instance; "outside" there is a place outside nairobi.
        let (instance, place) = match position {
            Position::Inside | Position::SubCountyBatch | Position::OtherSubCountyBatch => {
                (w.i1, "westlands")
            }
            Position::Outside if template.contains("{place_id}") => (w.i1, "ward2"),
            Position::Outside => (w.i2, "ward2"),
            Position::OtherTenant => (w.j1, "kampala"),
            Position::ForeignTenantId => (w.i1, "kampala"),
            Position::ForeignInstanceId => (w.i1, "mombasa"),
        };
        let batch = match position {
            Position::Inside => self.batch_i1,
            Position::Outside | Position::ForeignInstanceId => self.batch_i2,
            Position::OtherTenant | Position::ForeignTenantId => self.batch_j1,
            Position::SubCountyBatch => self.batch_nairobi,
            Position::OtherSubCountyBatch => self.batch_kisumu,
        };
        let grant = match position {
            Position::Outside => self.grant_outside,
            Position::OtherTenant | Position::ForeignTenantId => self.grant_other,
            _ => self.grant_inside,
        };
        let role = if position == Position::ForeignTenantId {
            B_ONLY_ROLE
        } else {
            "held_role"
        };
        let path = template
            .replace("{tenant_id}", &self.tenant(position).to_string())
            .replace("{instance_id}", &instance.to_string())
            .replace("{place_id}", place)
            .replace("{grant_id}", &grant.to_string())
            .replace("{role_key}", role)
            .replace("{batch_id}", &batch.to_string())
            .replace("{contact_type}", CONTACT_TYPE)
            // Removing row 0 would change what the next requests see; an absent row is refused
            // (422) to those allowed to try.
            .replace("{row}/remove", "999/remove")
            .replace("{row}", "0")
            .replace("{provider_id}", &self.provider.to_string())
            // Part A of issue 10: a link token and a person that do not exist.
            .replace("{token}", "no-such-link-token")
            .replace("{user_id}", "0190c0de-0000-7000-8000-000000000000");
        if template.ends_with("/search") || template.starts_with("/api/") {
            path + "?q=wa"
        } else {
            path
        }
    }
}
