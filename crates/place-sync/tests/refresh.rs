//! Refreshing the place cache from the CHT simulator over real HTTP.

use chrono::Utc;
use cht_client::{ChtClient, ChtConfig};
use cht_sim::{Seed, SimConfig, Simulator};
use portal_crypto::MasterKey;
use portal_domain::PlaceScope;
use portal_domain::place_path;
use portal_store::AuditContext;
use portal_store::places;

#[tokio::test]
async fn every_place_of_every_type_is_cached_with_its_lineage() {
    let sim = Simulator::start(SimConfig {
        seed: Seed::Demo,
        seed_size: 3_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (_dir, db) = test_support::sqlite().await;
    let ctx = AuditContext::command_line(Utc::now());
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &MasterKey::generate(),
        "Demo",
        &sim.base_url(),
        ("medic", "password"),
    )
    .await;
    let client =
        ChtClient::new(ChtConfig::new(&sim.base_url(), "medic", "password").unwrap()).unwrap();

    // Without a deployment config, every place type of the instance's app_settings.
    let refreshed = portal_place_sync::refresh(&db, &ctx, &client, tenant, instance, None, None)
        .await
        .unwrap();
    assert_eq!(refreshed.source, portal_place_sync::TypeSource::AppSettings);
    assert_eq!(
        refreshed.types,
        [
            "a_county",
            "b_sub_county",
            "c_community_health_unit",
            "d_community_health_volunteer_area"
        ]
    );
    // Pages of 1,000: the 3,000 places arrive over several requests, none lost or repeated.
    assert_eq!(refreshed.places, 3_000);
    assert_eq!(places::count(&db, instance).await.unwrap(), 3_000);
    let status = places::sync_status(&db, instance).await.unwrap();
    assert_eq!(status.iter().map(|s| s.place_count).sum::<i64>(), 3_000);

    // A chv area sits four levels down; its lineage names its three ancestors, root first.
    let roots = places::children(&db, instance, None, &PlaceScope::Everything, 100)
        .await
        .unwrap();
    assert!(
        !roots.is_empty()
            && roots
                .iter()
                .all(|p| p.contact_type == "a_county" && p.lineage == "/")
    );
    let area = places::search(&db, instance, "", &PlaceScope::Everything, 10_000)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.contact_type == "d_community_health_volunteer_area")
        .unwrap();
    let ancestors = place_path::ancestor_ids(&area.lineage);
    assert_eq!(ancestors.len(), 3);
    assert_eq!(
        area.parent_id.as_deref(),
        ancestors.last().map(String::as_str)
    );
    let county = places::get(&db, instance, &ancestors[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(county.contact_type, "a_county");
    // Scope filtering sees the area under its county, not under another one.
    let filter = PlaceScope::Subtrees(vec![county.id.clone()]);
    assert!(area.is_within(&filter));
    let other = roots.iter().find(|r| r.id != county.id);
    if let Some(other) = other {
        assert!(!area.is_within(&PlaceScope::Subtrees(vec![other.id.clone()])));
    }
    let events = portal_store::audit::list_recent(&db, 5).await.unwrap();
    assert_eq!(events[0].action, "places.refreshed");
    assert_eq!(events[0].details["places"], 3_000);
    sim.shutdown().await;
}
