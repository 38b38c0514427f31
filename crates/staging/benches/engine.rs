//! End-to-end staging benchmark: a Kenya-shaped 100,000-row CHP upload against 100,000 places.
//!
//! `cargo bench -p portal-staging` (release profile). Data is generated deterministically:
//! 47 counties → sub-counties → CHUs → CHP areas, and a CSV of new CHPs in the eCHIS-KE
//! `d_community_health_volunteer_area` columns with about 3% messy rows (wrong case, stray
//! spaces, misspelt CHUs, bad phones, duplicate phones, replacements). Prints the time of each
//! step, rows per second, and the process's peak resident memory (VmHWM).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use portal_staging::{
    Engine, Limits, PlaceIndex, PlaceRecord, RowStatus, Scope, Validator, decode,
};

const PLACES: usize = 100_000;
const ROWS: usize = 100_000;

/// Deterministic pseudo-random numbers.
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

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "ki", "ku", "ma", "mu", "mi", "nya", "nyi", "wa", "we", "ri", "ru", "to", "tu", "nga",
    "ngo", "be", "bu", "la", "lo", "sa", "si", "ta", "ti", "ya", "yo", "mbo", "ndu", "ke", "chu",
];
const FIRST: &[&str] = &[
    "Jane", "John", "Mary", "Peter", "Grace", "James", "Faith", "Joseph", "Mercy", "David",
    "Esther", "Samuel", "Ann", "Daniel", "Lucy", "Paul", "Ruth", "Moses", "Agnes", "Kevin",
];
const LAST: &[&str] = &[
    "Wanjiku",
    "Otieno",
    "Mwangi",
    "Achieng",
    "Kamau",
    "Njeri",
    "Ochieng",
    "Wambui",
    "Kiptoo",
    "Chebet",
    "Mutua",
    "Nduta",
    "Odhiambo",
    "Jepkosgei",
    "Kariuki",
    "Atieno",
    "Mutiso",
    "Korir",
];

fn place_name(rng: &mut Rng) -> String {
    let count = 3 + rng.below(2);
    let mut name = String::new();
    for _ in 0..count {
        name.push_str(rng.pick(SYLLABLES));
    }
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn record(id: String, contact_type: &str, name: String, parent: Option<&str>) -> PlaceRecord {
    PlaceRecord {
        id,
        contact_type: contact_type.to_owned(),
        name,
        parent_id: parent.map(str::to_owned),
    }
}

struct Chu {
    id: String,
    name: String,
    sub_county: String,
    chps: Vec<String>,
}

/// The places, and per CHU what a CSV row needs.
fn places(rng: &mut Rng) -> (Vec<PlaceRecord>, Vec<Chu>) {
    let mut records = Vec::with_capacity(PLACES);
    let mut chus = Vec::new();
    for county in 0..47 {
        let county_id = format!("county-{county}");
        records.push(record(county_id.clone(), "a_county", place_name(rng), None));
        for sub in 0..7 {
            let sub_id = format!("sub-{county}-{sub}");
            let sub_name = place_name(rng);
            records.push(record(
                sub_id.clone(),
                "b_sub_county",
                sub_name.clone(),
                Some(&county_id),
            ));
            for chu in 0..28 {
                let chu_id = format!("chu-{county}-{sub}-{chu}");
                let name = place_name(rng);
                // CHT names carry the suffix the Kenya hook appends; rows usually omit it.
                let stored = if rng.below(2) == 0 {
                    format!("{name} Community Health Unit")
                } else {
                    name.clone()
                };
                records.push(record(
                    chu_id.clone(),
                    "c_community_health_unit",
                    stored,
                    Some(&sub_id),
                ));
                chus.push(Chu {
                    id: chu_id,
                    name,
                    sub_county: sub_name.clone(),
                    chps: Vec::new(),
                });
            }
        }
    }
    let mut n = 0;
    while records.len() < PLACES {
        let chu_count = chus.len();
        let chu = &mut chus[n % chu_count];
        let name = format!("{} {} Area", rng.pick(FIRST), rng.pick(LAST));
        records.push(record(
            format!("chp-{n}"),
            "d_community_health_volunteer_area",
            name.clone(),
            Some(&chu.id),
        ));
        chu.chps.push(name);
        n += 1;
    }
    (records, chus)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The upload, and how many rows were made messy on purpose.
fn upload(rng: &mut Rng, chus: &[Chu]) -> (Vec<u8>, usize) {
    let mut csv =
        String::from("Sub County,CHU,Outgoing CHP,CHP Name,CHP Phone,Require password change\r\n");
    let mut messy = 0;
    let mut phones: Vec<String> = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let chu = &chus[rng.below(chus.len())];
        let mut sub_county = if rng.below(4) == 0 {
            String::new()
        } else {
            chu.sub_county.clone()
        };
        let mut chu_text = chu.name.clone();
        let mut outgoing = String::new();
        let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
        let prefix = ["70", "71", "72", "74", "79", "11"][rng.below(6)];
        let mut phone = format!("0{prefix}{:07}", rng.below(10_000_000));
        match rng.below(100) {
            0 => {
                chu_text = chu_text.to_uppercase();
                messy += 1;
            }
            1 => {
                chu_text = format!("  {}   ", chu_text.to_lowercase());
                sub_county = format!(" {sub_county}  ");
                messy += 1;
            }
            2 => {
                // A misspelling: one letter dropped.
                let cut = 1 + rng.below(chu_text.len() - 1);
                chu_text.remove(cut);
                messy += 1;
            }
            3 if !phones.is_empty() => {
                phone = phones[rng.below(phones.len())].clone();
                messy += 1;
            }
            4 => {
                phone = format!("07{}", rng.below(1000));
                messy += 1;
            }
            5 if !chu.chps.is_empty() => {
                outgoing = chu.chps[rng.below(chu.chps.len())].replace(" Area", "");
            }
            6 => phone = format!("+254 {} {}", &phone[1..4], &phone[4..]),
            _ => {}
        }
        let password = ["yes", "no", "", "Yes"][i % 4];
        phones.push(phone.clone());
        let fields = [
            sub_county,
            chu_text,
            outgoing,
            name,
            phone,
            password.to_owned(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = write!(csv, "{}\r\n", line.join(","));
    }
    (csv.into_bytes(), messy)
}

fn memory(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l[field.len() + 1..].trim().to_owned())
        })
        .unwrap_or_else(|| "n/a".to_owned())
}

/// CPU time used by the process so far (user + system), in seconds: less sensitive than wall
/// time to other work on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn main() {
    let config_bytes = include_bytes!("../tests/fixtures/chis-ke.config.json");
    let config = portal_deploy_config::check(config_bytes).expect("the Kenya config is valid");
    let chp = config
        .contact_type("d_community_health_volunteer_area")
        .expect("the CHP type exists");

    let mut rng = Rng(2024);
    let (records, chus) = places(&mut rng);
    let (bytes, messy) = upload(&mut rng, &chus);
    drop(chus);
    let place_count = records.len();
    let start = Instant::now();
    // The portal keeps the index per instance; building it is timed but not part of a request.
    let index = Arc::new(PlaceIndex::new(records));
    println!(
        "data: {place_count} places indexed in {:.0} ms; {ROWS} rows, {:.1} MB CSV, {messy} messy \
         rows; RSS before staging: {}",
        start.elapsed().as_secs_f64() * 1e3,
        bytes.len() as f64 / 1e6,
        memory("VmRSS:")
    );
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date");

    let mut best = f64::MAX;
    for round in 0..5 {
        let start = Instant::now();
        let cpu = cpu_seconds();
        let table = decode(&bytes, &Limits::default()).expect("the CSV decodes");
        let decoded = start.elapsed();
        let validator = Arc::new(Validator::new(chp).expect("the CHP type compiles"));
        let engine = Engine::new(validator, Arc::clone(&index));
        let bound = start.elapsed();
        let batch = engine
            .validate_table(&table, &Scope::All, today)
            .expect("the header matches");
        let total = start.elapsed();
        let cpu = cpu_seconds() - cpu;
        let counts = batch.counts();
        let secs = total.as_secs_f64();
        best = best.min(secs);
        println!(
            "round {round}: decode {:.0} ms, engine {:.0} ms, validate {:.0} ms; total {:.0} ms \
             = {:.0} rows/s (CPU {:.2} s); valid {}, warning {}, error {}",
            decoded.as_secs_f64() * 1e3,
            (bound - decoded).as_secs_f64() * 1e3,
            (total - bound).as_secs_f64() * 1e3,
            secs * 1e3,
            ROWS as f64 / secs,
            cpu,
            counts.valid,
            counts.warning,
            counts.error,
        );
        if round == 0 {
            println!(
                "  RSS with the batch held: {}; peak so far (VmHWM): {}",
                memory("VmRSS:"),
                memory("VmHWM:")
            );
            for (_, row) in batch
                .rows()
                .filter(|(_, r)| r.status() != RowStatus::Valid)
                .take(4)
            {
                if let Some(p) = row.problems().first().or_else(|| row.warnings().first()) {
                    println!("  e.g. {}", p.describe(row.line()));
                }
            }
        }
    }
    println!(
        "best decode + validate {:.0} ms ({:.0} rows/s); peak RSS (VmHWM) {}",
        best * 1e3,
        ROWS as f64 / best,
        memory("VmHWM:")
    );
}
