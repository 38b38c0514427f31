//! No input panics: random and corrupted files, random cell values through both configs.

mod common;

use std::sync::Arc;

use common::{contact_type, kenya, places, today, uganda};
use portal_staging::{Engine, Limits, Scope, Validator, decode};

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
}

const PIECES: &[&str] = &[
    "",
    " ",
    ",",
    ";",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\t",
    "0712345678",
    "+254",
    "Kyamboo",
    "é",
    "\u{FEFF}",
    "\u{00A0}",
    "काठ",
    "{{",
    "}}",
    "{% if %}",
    "(",
    ")",
    "'",
    "’s",
    "/",
    ".",
    "-",
    "xiv",
    "29/2/2023",
    "2024-02-29",
    "150",
    "-1",
    "yes",
    "Yes",
    "\u{202E}",
    "<script>",
    "\\",
    "ǅ",
    "ß",
    "İ",
    "\u{0301}",
    "🙂",
    "9999999999999999999999",
];

fn random_text(rng: &mut Rng, max_pieces: usize) -> String {
    (0..rng.below(max_pieces + 1))
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect()
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(1);
    for round in 0..2_000 {
        let len = rng.below(200);
        let mut bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xFF) as u8).collect();
        if round % 3 == 0 {
            bytes.splice(0..0, b"PK\x03\x04".iter().copied());
        }
        let _ = decode(&bytes, &Limits::default());
    }
}

#[test]
fn corrupted_spreadsheets_never_panic() {
    use rust_xlsxwriter::Workbook;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for row in 0..20u32 {
        for col in 0..5u16 {
            sheet
                .write_string(row, col, format!("r{row}c{col} Ménéz"))
                .unwrap();
        }
    }
    let good = workbook.save_to_buffer().unwrap();
    assert!(decode(&good, &Limits::default()).is_ok());
    let mut rng = Rng(2);
    for _ in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(bytes.len());
            bytes[at] = (rng.next() & 0xFF) as u8;
        }
        if rng.below(4) == 0 {
            bytes.truncate(rng.below(bytes.len()));
        }
        let _ = decode(&bytes, &Limits::default());
    }
}

#[test]
fn random_cells_never_panic_and_always_explain() {
    let mut rng = Rng(3);
    let index = Arc::new(places());
    for config in [kenya(), uganda()] {
        for ct in &config.contact_types {
            let validator = Arc::new(Validator::new(ct).unwrap());
            let engine = Engine::new(Arc::clone(&validator), Arc::clone(&index));
            let columns = validator.columns().len();
            for line in 0..400 {
                let cells: Vec<String> = (0..columns).map(|_| random_text(&mut rng, 4)).collect();
                let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                let row = engine.validate_one(line, &refs, &Scope::All, today());
                for problem in row.problems().iter().chain(row.warnings()) {
                    assert!(!problem.message.is_empty(), "{problem:?}");
                    assert!(!problem.fix.is_empty(), "{problem:?}");
                }
                let _ = validator.username_for(&row);
            }
        }
    }
    // The same through CSV text, header included.
    let config = kenya();
    let chp = contact_type(&config, "d_community_health_volunteer_area");
    let validator = Arc::new(Validator::new(chp).unwrap());
    let engine = Engine::new(Arc::clone(&validator), index);
    for _ in 0..300 {
        let text = format!(
            "Sub County,CHU,CHP Name,CHP Phone\n{}",
            random_text(&mut rng, 30)
        );
        if let Ok(table) = decode(text.as_bytes(), &Limits::default()) {
            let _ = engine.validate_table(&table, &Scope::All, today());
        }
    }
}
