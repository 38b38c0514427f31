//! The pool against a real database and the in-process CHT simulator.

use chrono::Utc;
use cht_sim::{RunningSim, SimConfig, Simulator};
use portal_cht_pool::{ChtPool, PoolError};
use portal_crypto::MasterKey;
use portal_domain::{
    BaseUrl, InstanceId, InstanceName, ServiceUsername, TenantId, TenantName, TenantSlug,
};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use portal_store::{AuditContext, Db, tenants};

struct World {
    _dir: tempfile::TempDir,
    db: Db,
    key: MasterKey,
    sim: RunningSim,
    tenant: TenantId,
    instance: InstanceId,
}

async fn world() -> World {
    let (dir, db) = test_support::sqlite().await;
    let key = MasterKey::generate();
    let sim = Simulator::start(SimConfig {
        rate_limit: false,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator");
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &key,
        "Kenya production",
        &sim.base_url(),
        ("medic", "password"),
    )
    .await;
    World {
        _dir: dir,
        db,
        key,
        sim,
        tenant,
        instance,
    }
}

/// Saves the instance again with `base_url` and `password` (the name and account unchanged).
async fn edit(w: &World, base_url: &str, password: &str) -> instances::Instance {
    instances::update(
        &w.db,
        &AuditContext::command_line(Utc::now()),
        &w.key,
        w.tenant,
        w.instance,
        &InstanceFields {
            name: InstanceName::parse("Kenya production").unwrap(),
            base_url: BaseUrl::parse(base_url).unwrap(),
            service_username: ServiceUsername::parse("medic").unwrap(),
            service_password: Some(ServicePassword::parse(password).unwrap()),
        },
    )
    .await
    .expect("the edit")
}

#[tokio::test]
async fn one_client_per_instance_shares_the_session() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let first = pool.client(w.tenant, w.instance).await.unwrap();
    first.login().await.expect("the service account signs in");
    let instance = instances::get(&w.db, w.tenant, w.instance).await.unwrap();
    let again = pool.for_instance(&instance).await.unwrap();
    assert_eq!(
        again.stats().logins,
        1,
        "the second caller got the same client"
    );
    assert_eq!(
        again.config().base_url.as_str(),
        format!("{}/", w.sim.base_url())
    );
}

#[tokio::test]
async fn callers_racing_for_a_new_client_end_with_the_same_one() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let (a, b) = tokio::join!(
        pool.client(w.tenant, w.instance),
        pool.client(w.tenant, w.instance)
    );
    a.unwrap().login().await.unwrap();
    assert_eq!(b.unwrap().stats().logins, 1);
}

#[tokio::test]
async fn an_edited_instance_gets_a_new_client() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let before = instances::get(&w.db, w.tenant, w.instance).await.unwrap();
    pool.for_instance(&before)
        .await
        .unwrap()
        .login()
        .await
        .unwrap();

    // Same address and account: the edit alone (a new password, say) replaces the client.
    let after = edit(&w, &w.sim.base_url(), "password").await;
    let client = pool.for_instance(&after).await.unwrap();
    assert_eq!(
        client.stats().logins,
        0,
        "a fresh client, with its own session"
    );

    // Another process (its own pool) sees the edit too: the fingerprint comes from the row.
    let other_process = ChtPool::new(w.db.clone(), w.key.clone());
    other_process.for_instance(&before).await.unwrap();
    let moved = edit(&w, "http://127.0.0.1:9", "a-new-password").await;
    let client = other_process.for_instance(&moved).await.unwrap();
    assert_eq!(client.config().base_url.as_str(), "http://127.0.0.1:9/");
}

#[tokio::test]
async fn a_caller_holding_a_stale_instance_gets_the_current_address() {
    // A request read the instance, then someone moved it to another address with a new
    // password: the new password must not be sent to the old address.
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let stale = instances::get(&w.db, w.tenant, w.instance).await.unwrap();
    edit(&w, "http://127.0.0.1:9", "a-new-password").await;
    let client = pool.for_instance(&stale).await.unwrap();
    assert_eq!(client.config().base_url.as_str(), "http://127.0.0.1:9/");
    assert_eq!(client.config().password.expose(), "a-new-password");
}

#[tokio::test]
async fn forget_drops_the_client() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    pool.client(w.tenant, w.instance)
        .await
        .unwrap()
        .login()
        .await
        .unwrap();
    pool.forget(w.instance);
    let client = pool.client(w.tenant, w.instance).await.unwrap();
    assert_eq!(client.stats().logins, 0);
}

#[tokio::test]
async fn an_unknown_instance_is_not_found() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let error = pool.client(w.tenant, InstanceId::new()).await.unwrap_err();
    assert!(matches!(error, PoolError::UnknownInstance), "{error:?}");
}

#[tokio::test]
async fn an_instance_of_another_tenant_is_not_found() {
    let w = world().await;
    let other = tenants::create(
        &w.db,
        &AuditContext::command_line(Utc::now()),
        &TenantSlug::parse("tg").unwrap(),
        &TenantName::parse("Togo").unwrap(),
    )
    .await
    .unwrap();
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let error = pool.client(other.id, w.instance).await.unwrap_err();
    assert!(matches!(error, PoolError::UnknownInstance), "{error:?}");
}

#[tokio::test]
async fn a_deleted_instance_is_not_found() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), w.key.clone());
    let instance = instances::get(&w.db, w.tenant, w.instance).await.unwrap();
    instances::delete(
        &w.db,
        &AuditContext::command_line(Utc::now()),
        w.tenant,
        w.instance,
    )
    .await
    .unwrap();
    let error = pool.for_instance(&instance).await.unwrap_err();
    assert!(matches!(error, PoolError::UnknownInstance), "{error:?}");
}

#[tokio::test]
async fn a_password_sealed_with_another_key_is_a_credentials_error() {
    let w = world().await;
    let pool = ChtPool::new(w.db.clone(), MasterKey::generate());
    let error = pool.client(w.tenant, w.instance).await.unwrap_err();
    assert!(
        matches!(error, PoolError::Credentials { instance, .. } if instance == w.instance),
        "{error:?}"
    );
}
