//! Staging at national scale, end to end through the running portal:
//!
//! - a Kenya-shaped instance with 100,000 cached places (47 counties → sub-counties → CHUs →
//!   CHP areas) and the real eCHIS-KE deployment config;
//! - a 100,000-row CHP CSV (about 3% messy rows: wrong case, stray spaces, misspelt CHUs, bad
//!   and duplicate phones), uploaded over HTTP to the staging page, until it is validated and
//!   stored (the redirect to the batch page);
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
use portal_store::places::{self, PlaceRecord};
use portal_store::users::{self, NewUser};
use reqwest::redirect;

const PLACES: usize = 100_000;
const ROWS: usize = 100_000;
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
    /// (sub-county name, CHU short name) of every CHU.
    chus: Vec<(String, String)>,
}

fn hierarchy() -> Hierarchy {
    let counties = 47;
    let subs = 320;
    let chus = 9_600;
    let areas = PLACES - counties - subs - chus;
    let mut places = Vec::with_capacity(PLACES);
    let record = |id: String, kind: &str, name: String, ancestors: Vec<String>| PlaceRecord {
        id,
        contact_type: kind.to_owned(),
        name,
        ancestors,
        properties: serde_json::Map::new(),
    };
    for c in 0..counties {
        places.push(record(
            format!("county-{c}"),
            "a_county",
            name(c, 1),
            vec![],
        ));
    }
    let mut sub_names = Vec::new();
    for s in 0..subs {
        let county = format!("county-{}", s % counties);
        let n = name(s, 2);
        sub_names.push(n.clone());
        places.push(record(format!("sub-{s}"), "b_sub_county", n, vec![county]));
    }
    let mut chu_list = Vec::new();
    for u in 0..chus {
        let s = u % subs;
        let short = name(u, 3);
        chu_list.push((sub_names[s].clone(), short.clone()));
        places.push(record(
            format!("chu-{u}"),
            "c_community_health_unit",
            format!("{short} Community Health Unit"),
            vec![format!("county-{}", s % counties), format!("sub-{s}")],
        ));
    }
    for a in 0..areas {
        let u = a % chus;
        let s = u % subs;
        places.push(record(
            format!("area-{a}"),
            "d_community_health_volunteer_area",
            format!("{} {} Area", FIRST[a % FIRST.len()], name(a, 4)),
            vec![
                format!("county-{}", s % counties),
                format!("sub-{s}"),
                format!("chu-{u}"),
            ],
        ));
    }
    Hierarchy {
        places,
        chus: chu_list,
    }
}

/// The CHP upload: Sub County, CHU, Outgoing CHP, CHP Name, CHP Phone, Require password change.
fn csv(h: &Hierarchy) -> Vec<u8> {
    let mut rng = Rng(2026);
    let mut out = String::with_capacity(ROWS * 80);
    out.push_str("Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\r\n");
    for i in 0..ROWS {
        let (sub, chu) = &h.chus[rng.below(h.chus.len())];
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
        let dup_phone = if messy == 3 {
            "0710000000".to_owned()
        } else {
            phone
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
async fn export_invalid_rows(client: &reqwest::Client, batch: &str, pid: &str, errors: i32) {
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
    places::replace_types(&db, &ctx, tenant, instance, &types, h.places.clone())
        .await
        .unwrap();
    println!(
        "cache {PLACES} places: {:.2} s (setup, not part of the target)",
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

    let body = csv(&h);
    println!(
        "upload: {ROWS} rows, {:.1} MiB CSV",
        body.len() as f64 / 1_048_576.0
    );
    let staging = format!("{base}/tenants/{tenant}/instances/{instance}/staging");
    let mut batch = String::new();
    for (attempt, what) in [
        (
            1,
            "first: place index loading since the staging page was opened",
        ),
        (2, "warm: place index in memory"),
    ] {
        let page = client
            .get(&staging)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf(&page);
        let form = reqwest::multipart::Form::new()
            .text("contact_type", "d_community_health_volunteer_area")
            .part(
                "file",
                reqwest::multipart::Part::bytes(body.clone()).file_name("chp.csv"),
            );
        let started = Instant::now();
        let response = client
            .post(format!("{staging}/upload?_csrf={token}"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(response.status(), 303, "upload {attempt} stored");
        batch = response.headers()["location"].to_str().unwrap().to_owned();
        println!(
            "upload {attempt} ({what}): {elapsed:.2} s to validated and stored, {:.0} rows/s",
            ROWS as f64 / elapsed
        );
    }
    let id: uuid::Uuid = batch.rsplit('/').next().unwrap().parse().unwrap();
    let info = portal_store::staging::batch(&db, instance, id)
        .await
        .unwrap();
    println!(
        "batch: {} valid, {} with warnings, {} with errors",
        info.valid, info.warning, info.error
    );
    println!(
        "peak resident memory of the portal process: {:.0} MiB (this benchmark process: {:.0} MiB)",
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
    export_invalid_rows(&client, &format!("{base}{batch}"), &pid, info.error).await;
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
