//! Refreshing places reads what the tenant's deployment config uses (issue 11): its place types
//! and their parents, nothing else; a type the instance lacks is said on the refresh and on the
//! instance page; the primary contacts' `unique` fields are cached, so a staged CHP whose phone
//! is already on the instance gets a duplicate warning.

use chrono::Utc;
use cht_sim::{RunningSim, Seed, SimConfig, Simulator};
use portal_crypto::MasterKey;
use portal_domain::PlaceScope;
use portal_domain::{BaseUrl, BuiltinRole, InstanceId, InstanceName, ServiceUsername, TenantId};
use portal_store::AuditContext;
use portal_store::access::GrantScope;
use portal_store::instances::{self, InstanceFields, ServicePassword};
use portal_store::places::{self, PlaceRecord};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::staging::{shared_config, upload_config, upload_rows};
use crate::support::{TestApp, location, page_text};
use crate::world::{World, role, signed_in};

const CHU: &str = "c_community_health_unit";
const CHP: &str = "d_community_health_volunteer_area";

/// app_settings declaring these `(type, parents)` place types, and a person type.
fn settings(types: &[(&str, &[&str])]) -> Value {
    let mut contact_types: Vec<Value> = types
        .iter()
        .map(|(id, parents)| json!({ "id": id, "parents": parents }))
        .collect();
    contact_types
        .push(json!({ "id": "person", "parents": [CHU, CHP, "e_household"], "person": true }));
    json!({ "contact_types": contact_types })
}

fn place(id: &str, kind: &str, name: &str, parents: &[&str]) -> Value {
    let mut doc = json!({ "_id": id, "type": "contact", "contact_type": kind, "name": name });
    if let Some(lineage) = lineage(parents) {
        doc["parent"] = lineage;
    }
    doc
}

/// `{_id, parent: {_id, …}}` from the parent up to the root.
fn lineage(ids: &[&str]) -> Option<Value> {
    ids.iter().rev().fold(None, |parent, id| {
        let mut node = json!({ "_id": id });
        if let Some(parent) = parent {
            node["parent"] = parent;
        }
        Some(node)
    })
}

/// Makueni > Kibwezi > Kalawa CHU > Jane's CHP area (her phone written the local way), and a
/// household under it.
fn makueni_docs() -> Vec<Value> {
    let under_area = ["area-jane", "kalawa", "kibwezi", "makueni"];
    let mut area = place("area-jane", CHP, "Jane Mwangi Area", &under_area[1..]);
    area["contact"] = json!({ "_id": "person-jane", "parent": lineage(&under_area) });
    let mut jane = json!({
        "_id": "person-jane", "type": "person", "name": "Jane Mwangi", "phone": "0712 345 678",
    });
    jane["parent"] = lineage(&under_area).unwrap();
    // With what the Kenya profile copies from a unit to a new CHP area.
    let mut kalawa = place(
        "kalawa",
        CHU,
        "Kalawa Community Health Unit",
        &["kibwezi", "makueni"],
    );
    kalawa["code"] = json!("607001");
    kalawa["link_facility_code"] = json!("12345");
    kalawa["link_facility_name"] = json!("Kalawa Health Centre");
    vec![
        place("makueni", "a_county", "Makueni", &[]),
        place("kibwezi", "b_sub_county", "Kibwezi", &["makueni"]),
        kalawa,
        area,
        jane,
        place(
            "household-1",
            "e_household",
            "Mwangi Household",
            &under_area,
        ),
    ]
}

/// The portal's own master key, so instances made here can be used by the running portal.
fn master_key(app: &TestApp) -> MasterKey {
    let path = app.config.data_dir.join("master.key");
    let text = std::fs::read_to_string(path).expect("the test portal wrote its master key");
    MasterKey::from_base64(text.trim()).unwrap()
}

struct Setup {
    app: TestApp,
    w: World,
    sim: RunningSim,
    instance: InstanceId,
    national: Client,
}

impl Setup {
    fn base(&self) -> String {
        format!("/tenants/{}/instances/{}", self.w.a, self.instance)
    }

    async fn refresh(&self) -> reqwest::Response {
        let places = format!("{}/places", self.base());
        self.app
            .submit_with(&self.national, &places, &format!("{places}/refresh"), &[])
            .await
    }
}

/// Tenant A with the Kenya config, an instance on a simulator with `settings`, and a national
/// administrator signed in.
async fn setup(settings: Value) -> Setup {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let sim = Simulator::start(SimConfig {
        seed: Seed::Docs(makueni_docs()),
        settings: Some(settings),
        rate_limit: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let instance = sim_instance(&app, w.a, &sim.base_url()).await;
    w.person(
        &app,
        "national@health.go.ke",
        w.a,
        role(BuiltinRole::NationalAdmin),
        GrantScope::Tenant,
    )
    .await;
    let national = signed_in(&app, "national@health.go.ke").await;
    let saved = upload_config(
        &app,
        &national,
        &w.a.to_string(),
        shared_config("chis-ke.config.json"),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    Setup {
        app,
        w,
        sim,
        instance,
        national,
    }
}

async fn sim_instance(app: &TestApp, tenant: TenantId, base_url: &str) -> InstanceId {
    instances::create(
        &app.db,
        &AuditContext::command_line(Utc::now()),
        &master_key(app),
        tenant,
        &InstanceFields {
            name: InstanceName::parse("Makueni CHT").unwrap(),
            base_url: BaseUrl::parse(base_url).unwrap(),
            service_username: ServiceUsername::parse("medic").unwrap(),
            service_password: Some(ServicePassword::parse("password").unwrap()),
        },
    )
    .await
    .unwrap()
    .id
}

async fn cached_types(s: &Setup) -> Vec<String> {
    let mut types: Vec<String> =
        places::search(&s.app.db, s.instance, "", &PlaceScope::Everything, 1_000)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.contact_type)
            .collect();
    types.sort();
    types.dedup();
    types
}

#[tokio::test]
async fn a_config_type_missing_from_app_settings_is_reported_not_cached_as_empty() {
    // The instance declares no CHU type (its CHP areas still name it as their parent), and a
    // household type the config does not use.
    let s = setup(settings(&[
        ("a_county", &[]),
        ("b_sub_county", &["a_county"]),
        (CHP, &[CHU]),
        ("e_household", &[CHP]),
    ]))
    .await;
    // A household left in the cache by an earlier refresh drops out.
    places::replace_types(
        &s.app.db,
        &AuditContext::command_line(Utc::now()),
        s.w.a,
        s.instance,
        &["e_household".to_owned()],
        vec![PlaceRecord {
            id: "household-0".into(),
            contact_type: "e_household".into(),
            name: "Old Household".into(),
            ancestors: Vec::new(),
            properties: serde_json::Map::new(),
        }],
    )
    .await
    .unwrap();

    let refreshed = s.refresh().await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "a result page, not a redirect"
    );
    let text = page_text(refreshed).await;
    let message = "The instance's app_settings have no place type c_community_health_unit, \
                   which the deployment config uses for the place of \"Community Health Unit\" \
                   and the \"CHU\" column of \"Community Health Promoter\".";
    assert!(text.contains(message), "{text}");
    assert!(
        text.contains(&format!("href=\"{}/places\"", s.base())),
        "the way back: {text}"
    );

    // Only the config's types present on the instance, with their parents, were read.
    assert_eq!(cached_types(&s).await, ["a_county", "b_sub_county", CHP]);
    let status: Vec<String> = places::sync_status(&s.app.db, s.instance)
        .await
        .unwrap()
        .into_iter()
        .map(|st| st.contact_type)
        .collect();
    assert!(
        !status.contains(&CHU.to_owned()),
        "no up-to-date cache of 0 CHUs: {status:?}"
    );
    assert!(!status.contains(&"e_household".to_owned()), "{status:?}");
    let event = s.app.last_audit("places.refreshed").await;
    assert_eq!(event.details["missing_types"], json!([CHU]));
    assert!(
        !event.details["types"]
            .as_array()
            .unwrap()
            .contains(&json!("e_household")),
        "{}",
        event.details
    );

    // The instance page and the places page say it too.
    for page in [s.base(), format!("{}/places", s.base())] {
        let text = page_text(s.app.get_with(&s.national, &page).await).await;
        assert!(text.contains(message), "{page}: {text}");
        assert!(!text.contains("e_household"), "{page} lists no unused type");
    }

    // Once the instance declares the type, a refresh reads it and the warning goes.
    let declared = settings(&[
        ("a_county", &[]),
        ("b_sub_county", &["a_county"]),
        (CHU, &["b_sub_county"]),
        (CHP, &[CHU]),
        ("e_household", &[CHP]),
    ]);
    let put = Client::new()
        .put(format!("{}/api/v1/settings", s.sim.base_url()))
        .basic_auth("medic", Some("password"))
        .json(&declared)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let again = s.refresh().await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        cached_types(&s).await,
        ["a_county", "b_sub_county", CHU, CHP]
    );
    let text = page_text(s.app.get_with(&s.national, &s.base()).await).await;
    assert!(!text.contains("have no place type"), "{text}");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_staged_chp_phone_already_on_the_instance_is_a_duplicate_warning() {
    let s = setup(settings(&[
        ("a_county", &[]),
        ("b_sub_county", &["a_county"]),
        (CHU, &["b_sub_county"]),
        (CHP, &[CHU]),
        ("e_household", &[CHP]),
    ]))
    .await;
    // Twice: the second refresh replaces the people of the first, with the places.
    for _ in 0..2 {
        let refreshed = s.refresh().await;
        assert_eq!(refreshed.status(), StatusCode::SEE_OTHER);
        assert!(location(&refreshed).contains("notice=places-refreshed"));
    }
    // Jane's phone, read from her doc and written as staged phones are.
    let people = portal_store::people::all_for_index(&s.app.db, s.instance)
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(
        (people[0].place_id.as_str(), people[0].value.as_str()),
        ("area-jane", "+254712345678")
    );

    let staging = format!("{}/staging", s.base());
    let csv = "Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\n\
               Kibwezi,Kalawa,,Mary Wanjiku,+254 712 345 678,\n\
               Kibwezi,Kalawa,,John Otieno,0722000111,\n";
    let uploaded = upload_rows(
        &s.app,
        &s.national,
        &staging,
        CHP,
        "chps.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        uploaded.status(),
        StatusCode::SEE_OTHER,
        "{}",
        uploaded.text().await.unwrap()
    );
    let batch = location(&uploaded);
    let page = page_text(s.app.get_with(&s.national, &batch).await).await;
    assert!(
        page.contains("Warnings 1") && page.contains("Valid 1"),
        "only Mary's row repeats a phone on the instance: {page}"
    );
    assert_eq!(page.matches("exists on the instance").count(), 1, "{page}");
    assert!(
        page.contains(
            "A contact with the same \"CHP Phone\" exists on the instance: the primary contact of \"Jane Mwangi Area\" (ID \"area-jane\")"
        ),
        "{page}"
    );
    s.sim.shutdown().await;
}
