use cht_client::{ChtError, ChtVersion, NewPlace, VersionSource};
use cht_sim::Version;

use crate::common::*;

#[tokio::test]
async fn detects_4_22_and_5_2() {
    for (sim_v, expected) in [
        (Version::V4_22, ChtVersion::new(4, 22, 0)),
        (Version::V5_2, ChtVersion::V5_2),
    ] {
        let sim = start(sim_v).await;
        let c = admin(&sim);
        let info = c.info().await.unwrap();
        assert_eq!(info.version, expected);
        assert_eq!(info.source, VersionSource::Monitoring);
        assert_eq!(info.raw_version, expected.to_string());
        assert!(info.couchdb_version.is_some());
        // public endpoints: no login needed to learn the version
        assert_eq!(c.stats().logins, 0);
        // cached
        c.version().await.unwrap();
        assert_eq!(c.stats().attempts, 1);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn datasource_writes_need_5_2() {
    let sim = start(Version::V4_22).await;
    let c = admin(&sim);
    let place = NewPlace {
        name: "X".into(),
        contact_type: "district_hospital".into(),
        ..NewPlace::default()
    };
    let err = c.datasource_create_place(&place).await.unwrap_err();
    assert!(
        matches!(err, ChtError::Unsupported { required, actual, .. }
            if required == ChtVersion::V5_2 && actual == ChtVersion::new(4, 22, 0)),
        "{err:?}"
    );
    sim.shutdown().await;

    let sim = start(Version::V5_2).await;
    let c = admin(&sim);
    let doc = c.datasource_create_place(&place).await.unwrap();
    // 5.2 always writes the configurable-hierarchy form
    assert_eq!(doc.doc_type, "contact");
    assert_eq!(doc.type_id(), "district_hospital");
    sim.shutdown().await;
}

#[tokio::test]
async fn test_connection_reports_version_and_permissions() {
    let sim = start(Version::V4_22).await;
    let r = admin(&sim).test_connection().await.unwrap();
    assert_eq!(r.info.version, ChtVersion::new(4, 22, 0));
    assert!(r.permissions.is_admin && r.permissions.missing.is_empty());
    sim.shutdown().await;
}
