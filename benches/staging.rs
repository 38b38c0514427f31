//! Staging at national scale, end to end through the running portal:
//!
//! - a Kenya-shaped instance with 109,967 cached places (47 counties → 320 sub-counties → 9,600
//!   CHUs carrying their codes → 100,000 CHP areas carrying the copied unit fields), the
//!   100,000 CHPs' phones cached as people (the `unique` field staging compares), and the real
//!   eCHIS-KE deployment config;
//! - a 10,000-row unit CSV (new CHUs), uploaded first through the same staging page, so its
//!   units are staged;
//! - a 100,000-row CHP CSV (about 4% messy rows: wrong case, stray spaces, misspelt CHUs, bad
//!   and duplicate phones, about 330 phones already on the instance; 10% of the rows name a
//!   staged unit), uploaded over HTTP to the staging page, until it is validated and stored (the
//!   redirect to the batch page);
//! - the batch page at the first, a middle and the last page, filtered and searched;
//! - the rows-with-errors export (`invalid.csv`), with the memory it adds to the portal process.
//!
//! Run: `cargo bench --bench staging` (SQLite), and with `PORTAL_BENCH_POSTGRES=postgres://…`
//! also on PostgreSQL. Prints every figure; docs/performance.md records them.

use std::time::{Duration, Instant};

use chrono::Utc;
use portal_crypto::MasterKey;
use portal_domain::Email;
use portal_store::AuditContext;
use portal_store::people::PersonRecord;
use portal_store::places::{self, PlaceRecord, Refresh};
use portal_store::users::{self, NewUser};
use reqwest::redirect;

/// CHP areas, each with a cached primary contact (its phone).
const AREAS: usize = 100_000;
const COUNTIES: usize = 47;
const SUB_COUNTIES: usize = 320;
const CHUS: usize = 9_600;
const PLACES: usize = COUNTIES + SUB_COUNTIES + CHUS + AREAS;
const ROWS: usize = 100_000;
/// New units in the unit file, staged before the CHP upload.
const UNITS: usize = 10_000;
const PASSWORD: &str = "benchmark password 2026";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n.max(1)
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "ki", "ku", "ma", "mu", "mi", "nya", "wa", "we", "ri", "ru", "to", "tu", "nga", "be",
    "bu", "la", "lo", "sa", "si", "ta", "ya", "mbo", "ndu",
];
const FIRST: [&str; 12] = [
    "Jane", "John", "Mary", "Peter", "Grace", "James", "Faith", "Joseph", "Mercy", "David",
    "Esther", "Samuel",
];
const LAST: [&str; 10] = [
    "Wanjiku", "Otieno", "Mwangi", "Achieng", "Kamau", "Njeri", "Ochieng", "Wambui", "Kiptoo",
    "Chebet",
];

/// A unique pronounceable name for the `n`th place of a level.
fn name(n: usize, salt: usize) -> String {
    let mut x = n * 7919 + salt * 104_729 + 1;
    let mut out = String::new();
    for _ in 0..3 {
        out.push_str(SYLLABLES[x % SYLLABLES.len()]);
        x /= SYLLABLES.len();
    }
    let mut chars = out.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('X');
    format!("{first}{} {}", chars.as_str(), n)
}

struct Hierarchy {
    places: Vec<PlaceRecord>,
    /// The CHP areas' primary contacts, with their phones as a refresh stores them.
    people: Vec<PersonRecord>,
    /// (sub-county name, CHU short name) of every CHU.
    chus: Vec<(String, String)>,
    sub_names: Vec<String>,
}

/// The phone of the cached primary contact of area `a` (E.164, as a refresh formats it).
fn cached_phone(a: usize) -> String {
    format!("+2547{:08}", 20_000_000 + a)
}

fn props(pairs: &[(&str, String)]) -> serde_json::Map<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
        .collect()
}

fn hierarchy() -> Hierarchy {
    let mut places = Vec::with_capacity(PLACES);
    let record = |id: String, kind: &str, name: String, ancestors: Vec<String>| PlaceRecord {
        id,
        contact_type: kind.to_owned(),
        name,
        ancestors,
        properties: serde_json::Map::new(),
    };
    for c in 0..COUNTIES {
        places.push(record(
            format!("county-{c}"),
            "a_county",
            name(c, 1),
            vec![],
        ));
    }
    let mut sub_names = Vec::new();
    for s in 0..SUB_COUNTIES {
        let county = format!("county-{}", s % COUNTIES);
        let n = name(s, 2);
        sub_names.push(n.clone());
        places.push(record(format!("sub-{s}"), "b_sub_county", n, vec![county]));
    }
    let mut chu_list = Vec::new();
    for u in 0..CHUS {
        let s = u % SUB_COUNTIES;
        let short = name(u, 3);
        chu_list.push((sub_names[s].clone(), short.clone()));
        // What a Kenya CHP area copies from its unit (docs/deployment-profiles.md).
        places.push(PlaceRecord {
            properties: props(&[
                ("code", format!("{}", 100_000 + u)),
                ("link_facility_code", format!("{}", 10_000 + u % 5_000)),
                (
                    "link_facility_name",
                    format!("{} Dispensary", name(u % 5_000, 6)),
                ),
            ]),
            ..record(
                format!("chu-{u}"),
                "c_community_health_unit",
                format!("{short} Community Health Unit"),
                vec![format!("county-{}", s % COUNTIES), format!("sub-{s}")],
            )
        });
    }
    let mut people = Vec::with_capacity(AREAS);
    for a in 0..AREAS {
        let u = a % CHUS;
        let s = u % SUB_COUNTIES;
        let id = format!("area-{a}");
        let contact = format!("{} {}", FIRST[a % FIRST.len()], LAST[a % LAST.len()]);
        people.push(PersonRecord {
            place_id: id.clone(),
            place_type: "d_community_health_volunteer_area".to_owned(),
            contact_id: format!("person-{a}"),
            contact_name: contact.clone(),
            values: vec![("phone".to_owned(), cached_phone(a))],
        });
        places.push(PlaceRecord {
            properties: props(&[
                ("chu_code", format!("{}", 100_000 + u)),
                (
                    "chu_name",
                    format!("{} Community Health Unit", chu_list[u].1),
                ),
                ("link_facility_code", format!("{}", 10_000 + u % 5_000)),
                (
                    "link_facility_name",
                    format!("{} Dispensary", name(u % 5_000, 6)),
                ),
            ]),
            ..record(
                id,
                "d_community_health_volunteer_area",
                format!("{contact} {} Area", name(a, 4)),
                vec![
                    format!("county-{}", s % COUNTIES),
                    format!("sub-{s}"),
                    format!("chu-{u}"),
                ],
            )
        });
    }
    Hierarchy {
        places,
        people,
        chus: chu_list,
        sub_names,
    }
}

/// The short name of the `k`th unit of the unit file (none is cached).
fn new_unit(k: usize) -> String {
    name(CHUS + k, 5)
}

/// The sub-county of the `k`th new unit.
fn new_unit_sub(h: &Hierarchy, k: usize) -> &str {
    &h.sub_names[(k * 7) % SUB_COUNTIES]
}

/// The unit upload (Kenya `c_community_health_unit` columns): all new units, valid.
fn unit_csv(h: &Hierarchy) -> Vec<u8> {
    let mut rng = Rng(2027);
    let mut out = String::with_capacity(UNITS * 140);
    out.push_str(
        "Sub County,Affected CHU,CHU Name,CHU Code,Link Facility Name,Link Facility MFL Code,\
         CHA Name,CHA Phone,Require password change\r\n",
    );
    for k in 0..UNITS {
        let cha = format!(
            "{} {}",
            FIRST[rng.below(FIRST.len())],
            LAST[rng.below(LAST.len())]
        );
        out.push_str(&format!(
            "{},,{},{},{} Health Centre,{},{cha},07{:08},no\r\n",
            new_unit_sub(h, k),
            new_unit(k),
            200_000 + k,
            name(k, 7),
            60_000 + k % 30_000,
            12_000_000 + k,
        ));
    }
    out.into_bytes()
}

/// The CHP upload: Sub County, CHU, Outgoing CHP, CHP Name, CHP Phone, Require password change.
fn csv(h: &Hierarchy) -> Vec<u8> {
    let mut rng = Rng(2026);
    let mut out = String::with_capacity(ROWS * 80);
    out.push_str("Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\r\n");
    for i in 0..ROWS {
        // One row in ten names a unit the staged unit file creates.
        let (sub, chu) = if rng.below(10) == 0 {
            let k = rng.below(UNITS);
            (new_unit_sub(h, k).to_owned(), new_unit(k))
        } else {
            h.chus[rng.below(h.chus.len())].clone()
        };
        let (sub, chu) = (&sub, &chu);
        let person = format!(
            "{} {}",
            FIRST[rng.below(FIRST.len())],
            LAST[rng.below(LAST.len())]
        );
        let phone = format!("07{:08}", 10_000_000 + i);
        let messy = rng.below(100);
        let (sub, chu, person, phone) = match messy {
            0 => (
                sub.to_uppercase(),
                format!("  {}  ", chu.to_lowercase()),
                person,
                phone,
            ),
            1 => (sub.clone(), format!("{chu}x"), person, phone), // misspelt
            2 => (
                sub.clone(),
                chu.clone(),
                person.to_uppercase(),
                "12345".to_owned(),
            ), // bad phone
            _ => (sub.clone(), chu.clone(), person, phone),
        };
        let dup_phone = match messy {
            3 => "0710000000".to_owned(),
            // A phone a cached CHP already has (about 330 rows).
            4 if rng.below(3) == 0 => format!("07{:08}", 20_000_000 + rng.below(AREAS)),
            _ => phone,
        };
        out.push_str(&format!("{sub},{chu},,{person},{dup_phone},no\r\n"));
    }
    out.into_bytes()
}

/// Peak resident memory of process `pid` ("self" for this one), in MiB.
fn peak_rss_mib(pid: &str) -> f64 {
    memory_mib(pid, "VmHWM:")
}

/// A memory figure of `/proc/<pid>/status` (`VmHWM:`, `VmRSS:`), in MiB.
fn memory_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Downloads the batch's rows with errors and prints how long it took and how far the portal's
/// resident memory rose above where it was before (the peak is reset first: `clear_refs` 5).
async fn export_invalid_rows(client: &reqwest::Client, batch: &str, pid: &str, errors: i32) -> f64 {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let before = memory_mib(pid, "VmRSS:");
    let started = Instant::now();
    let response = client
        .get(format!("{batch}/invalid.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    println!(
        "invalid.csv: {errors} rows with errors, {:.1} MiB in {:.2} s; portal resident memory \
         {before:.0} MiB before, peak {:.0} MiB during (+{:.0} MiB)",
        bytes.len() as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        peak_rss_mib(pid),
        peak_rss_mib(pid) - before
    );
    peak_rss_mib(pid)
}

/// Opens the staging page and uploads `body` as a file of `contact_type`, timing until the
/// redirect to the batch page (every row decoded, validated and stored). Returns the seconds
/// and the batch page's path.
async fn upload(
    client: &reqwest::Client,
    staging: &str,
    contact_type: &str,
    file_name: &str,
    body: Vec<u8>,
) -> (f64, String) {
    let page = client
        .get(staging)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf(&page);
    let form = reqwest::multipart::Form::new()
        .text("contact_type", contact_type.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(body).file_name(file_name.to_owned()),
        );
    let started = Instant::now();
    let response = client
        .post(format!("{staging}/upload?_csrf={token}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(response.status(), 303, "{file_name} stored");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    (elapsed, location)
}

fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .expect("a CSRF token on the page")
        + 20;
    html[at..].split('"').next().unwrap_or_default().to_owned()
}

async fn run(label: &str, url: &str) {
    println!("\n== {label} ==");
    let db = test_support::migrated(url).await;
    let ctx = AuditContext::command_line(Utc::now());
    let key = MasterKey::generate();
    let (tenant, instance) = test_support::tenant_with_instance(
        &db,
        &key,
        "Makueni",
        "https://makueni.echis.go.ke",
        ("portal", "service-password"),
    )
    .await;
    let h = hierarchy();
    let types: Vec<String> = [
        "a_county",
        "b_sub_county",
        "c_community_health_unit",
        "d_community_health_volunteer_area",
    ]
    .map(str::to_owned)
    .to_vec();
    let started = Instant::now();
    // As a place refresh stores them: the places and their primary contacts' phones together.
    places::replace(
        &db,
        &ctx,
        tenant,
        instance,
        Refresh {
            types,
            whole: true,
            records: h.places.clone(),
            people: h.people.clone(),
            gaps: Vec::new(),
        },
    )
    .await
    .unwrap();
    println!(
        "cache {PLACES} places and {AREAS} people: {:.2} s (setup, not part of the target)",
        started.elapsed().as_secs_f64()
    );
    let config = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/deploy-config/tests/fixtures/chis-ke.config.json"
    ))
    .unwrap();
    portal_store::staging::save_config(
        &db,
        &ctx,
        tenant,
        std::str::from_utf8(&config).unwrap(),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    users::create(
        &db,
        &ctx,
        NewUser {
            email: Email::parse("bench@health.go.ke").unwrap(),
            display_name: "Bench".into(),
            password_hash: portal_crypto::hash_password(PASSWORD).unwrap(),
            password_must_change: false,
            is_platform_admin: true,
        },
    )
    .await
    .unwrap();

    // The portal as deployed: its own process, so its memory is measured alone.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = std::env::temp_dir().join(format!("cht-portal-bench-{port}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut portal = std::process::Command::new(env!("CARGO_BIN_EXE_cht-portal"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("PORTAL_MASTER_KEY", key.to_base64())
        .env("PORTAL_DATA_DIR", data_dir.path())
        .env("PORTAL_LOG__FILTER", "warn,portal_batches=info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("the portal binary starts");
    let pid = portal.id().to_string();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    // Wait until it serves.
    for _ in 0..1200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed = client
        .post(format!("{base}/login"))
        .form(&[
            ("_csrf", csrf(&login).as_str()),
            ("email", "bench@health.go.ke"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "signed in");

    let staging = format!("{base}/tenants/{tenant}/instances/{instance}/staging");
    // The staging page loads the place index in the background; the unit upload waits for it.
    let units = unit_csv(&h);
    let (elapsed, unit_batch) = upload(
        &client,
        &staging,
        "c_community_health_unit",
        "units.csv",
        units,
    )
    .await;
    let unit_id: uuid::Uuid = unit_batch.rsplit('/').next().unwrap().parse().unwrap();
    let unit_info = portal_store::staging::batch(&db, instance, unit_id)
        .await
        .unwrap();
    println!(
        "unit upload ({UNITS} rows, place index loading since the staging page was opened): \
         {elapsed:.2} s; {} valid, {} with warnings, {} with errors",
        unit_info.valid, unit_info.warning, unit_info.error
    );
    let peak_after_units = peak_rss_mib(&pid);

    let body = csv(&h);
    println!(
        "CHP upload: {ROWS} rows, {:.1} MiB CSV",
        body.len() as f64 / 1_048_576.0
    );
    let mut batch = String::new();
    for (attempt, what) in [
        (1, "first: snapshot with the staged units built"),
        (2, "again: snapshot in memory"),
    ] {
        let (elapsed, location) = upload(
            &client,
            &staging,
            "d_community_health_volunteer_area",
            "chp.csv",
            body.clone(),
        )
        .await;
        batch = location;
        println!(
            "CHP upload {attempt} ({what}): {elapsed:.2} s to validated and stored, {:.0} rows/s",
            ROWS as f64 / elapsed
        );
    }
    let id: uuid::Uuid = batch.rsplit('/').next().unwrap().parse().unwrap();
    let info = portal_store::staging::batch(&db, instance, id)
        .await
        .unwrap();
    println!(
        "CHP batch: {} valid, {} with warnings, {} with errors",
        info.valid, info.warning, info.error
    );
    // The rows that name a staged unit, by status (read here, not by the portal).
    let mut on_staged = std::collections::BTreeMap::<&str, usize>::new();
    let mut on_instance = 0;
    for row in portal_store::staging::all_rows(&db, id).await.unwrap() {
        if row.depends_on.is_some_and(|d| d.batch == unit_id) {
            *on_staged.entry(row.status.as_str()).or_default() += 1;
        }
        if row
            .warnings
            .iter()
            .any(|w| w.kind == portal_domain::ProblemKind::DuplicateOnInstance)
        {
            on_instance += 1;
        }
    }
    println!(
        "CHP rows naming a staged unit, by status: {on_staged:?}; rows warned of a value \
         already on the instance: {on_instance}"
    );
    println!(
        "peak resident memory of the portal process: {:.0} MiB after the unit upload, {:.0} MiB \
         after the CHP uploads (this benchmark process: {:.0} MiB)",
        peak_after_units,
        peak_rss_mib(&pid),
        peak_rss_mib("self")
    );
    for line in std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .lines()
    {
        if line.contains("staged an upload") {
            println!("portal log: {}", line.trim());
        }
    }

    let last = (u64::try_from(ROWS).unwrap()).div_ceil(50);
    for (what, query) in [
        ("page 1", "?page=1".to_owned()),
        ("middle page", format!("?page={}", last / 2)),
        ("last page", format!("?page={last}")),
        ("errors, page 1", "?status=error&page=1".to_owned()),
        (
            "errors, last page",
            format!(
                "?status=error&page={}",
                u64::from(info.error.unsigned_abs()).div_ceil(50)
            ),
        ),
        ("search 'grace'", "?q=grace&page=1".to_owned()),
    ] {
        let url = format!("{base}{batch}{query}");
        let mut times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.bytes().await.unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "batch page, {what}: median {:.1} ms, max {:.1} ms",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    let peak_before_export = peak_rss_mib(&pid);
    let export_peak =
        export_invalid_rows(&client, &format!("{base}{batch}"), &pid, info.error).await;
    println!(
        "peak resident memory of the portal process over the whole run, the export included: \
         {:.0} MiB",
        peak_before_export.max(export_peak)
    );
    let _ = portal.kill();
    let _ = portal.wait();
    let _ = std::fs::remove_file(&log_path);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        run("SQLite", &sqlite).await;
        if let Ok(server) = std::env::var("PORTAL_BENCH_POSTGRES") {
            let admin = portal_store::connect(&format!("{server}/postgres"))
                .await
                .expect("PostgreSQL");
            use sea_orm::ConnectionTrait;
            let name = "cht_portal_bench";
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            run("PostgreSQL", &format!("{server}/{name}")).await;
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    });
}
