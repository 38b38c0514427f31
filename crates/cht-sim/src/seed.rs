//! Initial data: empty, a seed file, or a deterministic Kenya-shaped demo hierarchy
//! (county → sub-county → community health unit → CHP area, with CHAs and CHPs as contacts
//! and users).

use serde_json::{Map, Value, json};

use crate::auth;
use crate::server::{Seed, SimConfig};
use crate::settings::{Settings, default_permissions, default_settings};
use crate::store::{DbName, Store};
use crate::util::{SplitMix64, lineage_of};

/// Every seeded demo user signs in with this password.
pub const DEMO_PASSWORD: &str = "Demo-Pass-2024";
/// The largest `--seed-size` accepted.
pub const MAX_SEED_SIZE: usize = 200_000;

pub fn build(cfg: &SimConfig) -> Result<Store, String> {
    let (settings, docs) = match &cfg.seed {
        Seed::Empty => (default_settings(), Vec::new()),
        Seed::Demo => demo(cfg.seed_size, cfg.rng_seed)?,
        Seed::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let docs: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
            from_docs(
                docs.as_array()
                    .cloned()
                    .ok_or("a seed file must hold a JSON array of documents")?,
            )?
        }
        Seed::Docs(docs) => from_docs(docs.clone())?,
    };
    let settings = cfg.settings.clone().unwrap_or(settings);
    let mut store = Store::new(Settings::new(settings));
    for (db, doc) in docs {
        store.restore(db, doc)?;
    }
    Ok(store)
}

/// Routes seed-file docs: a `settings` doc supplies app_settings, `org.couchdb.user:*` docs of
/// `type:"user"` go to `_users` (a plain `password` is hashed), `connected-user-*` and
/// `bulk-user-upload-*` to `medic-logs`, everything else to `medic`.
fn from_docs(docs: Vec<Value>) -> Result<(Value, Vec<(DbName, Value)>), String> {
    let mut settings = default_settings();
    let mut out = Vec::new();
    for doc in docs {
        let Value::Object(mut m) = doc else {
            return Err("seed documents must be objects".into());
        };
        let id = m
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if id.is_empty() {
            return Err("every seed document needs an _id".into());
        }
        if id == "settings"
            && let Some(s) = m.get("settings")
        {
            settings = s.clone();
        }
        let is_user = id.starts_with("org.couchdb.user:")
            && m.get("type").and_then(Value::as_str) == Some("user");
        let db = if is_user {
            if let Some(p) = m.remove("password") {
                let salt = format!("seed-{id}");
                m.extend(auth::password_fields(&salt, p.as_str().unwrap_or("")));
            }
            DbName::Users
        } else if id.starts_with("connected-user-") || id.starts_with("bulk-user-upload-") {
            DbName::Logs
        } else {
            DbName::Medic
        };
        out.push((db, Value::Object(m)));
    }
    Ok((settings, out))
}

const COUNTIES: [&str; 47] = [
    "Mombasa",
    "Kwale",
    "Kilifi",
    "Tana River",
    "Lamu",
    "Taita Taveta",
    "Garissa",
    "Wajir",
    "Mandera",
    "Marsabit",
    "Isiolo",
    "Meru",
    "Tharaka Nithi",
    "Embu",
    "Kitui",
    "Machakos",
    "Makueni",
    "Nyandarua",
    "Nyeri",
    "Kirinyaga",
    "Muranga",
    "Kiambu",
    "Turkana",
    "West Pokot",
    "Samburu",
    "Trans Nzoia",
    "Uasin Gishu",
    "Elgeyo Marakwet",
    "Nandi",
    "Baringo",
    "Laikipia",
    "Nakuru",
    "Narok",
    "Kajiado",
    "Kericho",
    "Bomet",
    "Kakamega",
    "Vihiga",
    "Bungoma",
    "Busia",
    "Siaya",
    "Kisumu",
    "Homa Bay",
    "Migori",
    "Kisii",
    "Nyamira",
    "Nairobi",
];
const SYLLABLES: [&str; 32] = [
    "ka", "ki", "ma", "mu", "nya", "ndi", "ri", "ru", "go", "ba", "la", "wa", "ti", "ne", "se",
    "lo", "mbe", "ngo", "tha", "chu", "ge", "ro", "ya", "ko", "bu", "si", "to", "ngu", "ra", "me",
    "ku", "da",
];
const DIRECTIONS: [&str; 5] = ["North", "South", "East", "West", "Central"];
const FACILITY_KINDS: [&str; 3] = ["Dispensary", "Health Centre", "Sub-County Hospital"];
const FIRST_NAMES: [&str; 40] = [
    "Akinyi",
    "Wanjiru",
    "Atieno",
    "Njeri",
    "Chebet",
    "Wambui",
    "Nekesa",
    "Mwende",
    "Auma",
    "Jepkosgei",
    "Nyokabi",
    "Kerubo",
    "Moraa",
    "Halima",
    "Amina",
    "Zawadi",
    "Faith",
    "Grace",
    "Mercy",
    "Esther",
    "Otieno",
    "Kamau",
    "Mutua",
    "Kipchoge",
    "Wafula",
    "Omondi",
    "Njoroge",
    "Kiprop",
    "Barasa",
    "Onyango",
    "Mwangi",
    "Kariuki",
    "Juma",
    "Hassan",
    "Abdi",
    "Peter",
    "John",
    "Daniel",
    "Brian",
    "Kevin",
];
const SURNAMES: [&str; 40] = [
    "Otieno",
    "Ochieng",
    "Odhiambo",
    "Owino",
    "Kamau",
    "Mwangi",
    "Njoroge",
    "Kariuki",
    "Mutua",
    "Musyoka",
    "Kioko",
    "Wambua",
    "Kiprotich",
    "Kipkemboi",
    "Cheruiyot",
    "Rotich",
    "Wafula",
    "Wanyama",
    "Barasa",
    "Simiyu",
    "Omondi",
    "Okoth",
    "Achieng",
    "Nyambura",
    "Wanjiku",
    "Githinji",
    "Maina",
    "Ndungu",
    "Mohamed",
    "Ali",
    "Hussein",
    "Abdullahi",
    "Ekai",
    "Lokiru",
    "Lemayian",
    "Sankale",
    "Nyaboke",
    "Kemunto",
    "Makori",
    "Onsongo",
];

fn stem(rng: &mut SplitMix64) -> String {
    let n = 2 + rng.below(2) as usize;
    let s: String = (0..n).map(|_| *rng.pick(&SYLLABLES)).collect();
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn digits(rng: &mut SplitMix64, n: u32) -> String {
    format!("{:0width$}", rng.below(10u64.pow(n)), width = n as usize)
}

fn kenya_settings() -> Value {
    let mut s = default_settings();
    s["roles"]["community_health_assistant"] = json!({"name": "usertype.cha", "offline": true});
    s["roles"]["community_health_volunteer"] = json!({"name": "usertype.chv", "offline": true});
    s["roles"]["sub_county_officer"] = json!({"name": "usertype.sub-county-officer"});
    s["permissions"] = default_permissions(
        &[
            "chw",
            "chw_supervisor",
            "community_health_assistant",
            "community_health_volunteer",
        ],
        &["program_officer", "sub_county_officer"],
    );
    s["permissions"]["can_have_multiple_places"] = json!(["community_health_assistant"]);
    let place = |id: &str, key: &str, parents: &[&str]| {
        let mut t = json!({
            "id": id, "name_key": format!("contact.type.{key}"),
            "group_key": format!("contact.type.{key}.plural"),
            "create_key": format!("contact.type.{key}.new"), "edit_key": "contact.type.place.edit",
            "icon": key, "create_form": format!("form:contact:{id}:create"),
            "edit_form": format!("form:contact:{id}:edit")
        });
        if !parents.is_empty() {
            t["parents"] = json!(parents);
        }
        t
    };
    s["contact_types"] = json!([
        place("a_county", "county", &[]),
        place("b_sub_county", "sub_county", &["a_county"]),
        place("c_community_health_unit", "community_health_unit", &["b_sub_county"]),
        place("d_community_health_volunteer_area", "chv_area", &["c_community_health_unit"]),
        {"id": "person", "name_key": "contact.type.person", "group_key": "contact.type.person.plural",
         "create_key": "contact.type.person.new", "edit_key": "contact.type.person.edit",
         "primary_contact_key": "clinic.field.contact", "icon": "medic-person", "person": true,
         "parents": ["a_county", "b_sub_county", "c_community_health_unit", "d_community_health_volunteer_area"],
         "create_form": "form:contact:person:create", "edit_form": "form:contact:person:edit"}
    ]);
    s
}

/// How many places of each level a demo of `size` places has, shaped like Kenya (47 counties,
/// ~6 sub-counties each, ~30 units per sub-county, ~10 CHP areas per unit).
fn level_sizes(size: usize) -> [usize; 4] {
    let counties = size.div_ceil(2200).clamp(1, 47);
    let subs = size.div_ceil(360).max(counties);
    let units = size.div_ceil(11).max(subs);
    let areas = size.saturating_sub(counties + subs + units).max(1);
    [counties, subs, units, areas]
}

struct Demo {
    rng: SplitMix64,
    docs: Vec<(DbName, Value)>,
    user_seq: usize,
    base_date: u64,
}

impl Demo {
    fn reported(&mut self) -> Value {
        Value::from(self.base_date + self.rng.below(400 * 24 * 3600 * 1000))
    }

    fn place(
        &mut self,
        contact_type: &str,
        name: String,
        parent: Option<&Value>,
        extra: Value,
    ) -> Value {
        let mut doc = json!({
            "_id": self.rng.hex_id(), "type": "contact", "contact_type": contact_type,
            "name": name, "reported_date": self.reported()
        });
        if let Some(p) = parent {
            doc["parent"] = lineage_of(p);
        }
        if let (Value::Object(d), Value::Object(e)) = (&mut doc, extra) {
            d.extend(e);
        }
        doc
    }

    /// A person under `place`, its user (`_users` + user-settings), and the place's contact.
    fn staff(&mut self, place: &mut Value, role: &str, chw_role: &str) -> Value {
        let first = *self.rng.pick(&FIRST_NAMES);
        let last = *self.rng.pick(&SURNAMES);
        let name = format!("{first} {last}");
        let phone = format!("+2547{}", digits(&mut self.rng, 8));
        let sex = if FIRST_NAMES.iter().position(|n| *n == first).unwrap_or(0) < 20 {
            "female"
        } else {
            "male"
        };
        let person = json!({
            "_id": self.rng.hex_id(), "type": "person", "name": name, "phone": phone, "sex": sex,
            "date_of_birth": format!("19{}-0{}-1{}", 60 + self.rng.below(40), 1 + self.rng.below(9), self.rng.below(10)),
            "role": chw_role, "parent": lineage_of(place), "reported_date": self.reported()
        });
        place["contact"] = lineage_of(&person);
        self.user_seq += 1;
        let username = format!(
            "{}_{}_{}",
            first.to_lowercase(),
            last.to_lowercase(),
            self.user_seq
        );
        let id = format!("org.couchdb.user:{username}");
        let place_id = place["_id"].clone();
        let mut user = Map::new();
        user.insert("_id".into(), Value::String(id.clone()));
        user.insert("name".into(), Value::String(username.clone()));
        user.insert("type".into(), Value::String("user".into()));
        user.insert("roles".into(), json!([role]));
        user.insert("facility_id".into(), json!([place_id]));
        user.insert("contact_id".into(), person["_id"].clone());
        user.insert("password_change_required".into(), Value::Bool(false));
        user.extend(auth::password_fields(
            &format!("demo-{username}"),
            DEMO_PASSWORD,
        ));
        self.docs.push((DbName::Users, Value::Object(user)));
        self.docs.push((
            DbName::Medic,
            json!({
                "_id": id, "name": username, "type": "user-settings", "roles": [role],
                "facility_id": [place_id], "contact_id": person["_id"], "fullname": name,
                "phone": phone, "known": true, "language": "en"
            }),
        ));
        person
    }
}

/// The demo hierarchy: `size` places (plus their people and users), deterministic per seed.
pub fn demo(size: usize, seed: u64) -> Result<(Value, Vec<(DbName, Value)>), String> {
    if !(4..=MAX_SEED_SIZE).contains(&size) {
        return Err(format!(
            "--seed-size must be between 4 and {MAX_SEED_SIZE}, got {size}"
        ));
    }
    let [nc, ns, nu, na] = level_sizes(size);
    let mut d = Demo {
        rng: SplitMix64::new(seed),
        docs: Vec::with_capacity(size * 3),
        user_seq: 0,
        base_date: 1_704_067_200_000, // 2024-01-01
    };
    let mut county_names: Vec<&str> = COUNTIES.to_vec();
    for i in (1..county_names.len()).rev() {
        let j = d.rng.below(i as u64 + 1) as usize;
        county_names.swap(i, j);
    }
    let counties: Vec<Value> = (0..nc)
        .map(|i| {
            let name = county_names[i];
            let code = format!(
                "{:03}",
                COUNTIES.iter().position(|c| *c == name).unwrap_or(0) + 1
            );
            d.place(
                "a_county",
                format!("{name} County"),
                None,
                json!({"code": code}),
            )
        })
        .collect();
    let subs: Vec<Value> = (0..ns)
        .map(|i| {
            let county = &counties[i * nc / ns];
            let county_name = county["name"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches(" County")
                .to_string();
            let name = if d.rng.below(2) == 0 {
                format!("{county_name} {}", d.rng.pick(&DIRECTIONS))
            } else {
                stem(&mut d.rng)
            };
            d.place(
                "b_sub_county",
                format!("{name} Sub County"),
                Some(county),
                json!({}),
            )
        })
        .collect();
    let mut units: Vec<Value> = (0..nu)
        .map(|i| {
            let sub = &subs[i * ns / nu];
            let s = stem(&mut d.rng);
            let facility = format!("{} {}", stem(&mut d.rng), d.rng.pick(&FACILITY_KINDS));
            let extra = json!({
                "code": digits(&mut d.rng, 6),
                "link_facility_name": facility,
                "link_facility_code": digits(&mut d.rng, 5)
            });
            d.place(
                "c_community_health_unit",
                format!("{s} Community Health Unit"),
                Some(sub),
                extra,
            )
        })
        .collect();
    let mut people = Vec::new();
    for unit in &mut units {
        people.push(d.staff(unit, "community_health_assistant", "cha"));
    }
    let mut areas = Vec::with_capacity(na);
    for i in 0..na {
        let unit = units[i * nu / na].clone();
        let mut area = d.place(
            "d_community_health_volunteer_area",
            String::new(),
            Some(&unit),
            json!({}),
        );
        let chp = d.staff(&mut area, "community_health_volunteer", "chp");
        area["name"] = Value::String(format!("{} Area", chp["name"].as_str().unwrap_or("")));
        people.push(chp);
        areas.push(area);
    }
    let places = counties.into_iter().chain(subs).chain(units).chain(areas);
    let mut docs: Vec<(DbName, Value)> = places.map(|p| (DbName::Medic, p)).collect();
    docs.extend(people.into_iter().map(|p| (DbName::Medic, p)));
    docs.append(&mut d.docs);
    Ok((kenya_settings(), docs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_sized() {
        let (_, a) = demo(500, 9).unwrap();
        let (_, b) = demo(500, 9).unwrap();
        let (_, c) = demo(500, 10).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let places = a.iter().filter(|(_, d)| d["type"] == "contact").count();
        assert_eq!(places, 500);
    }

    #[test]
    fn level_sizes_follow_kenya_shape() {
        assert_eq!(level_sizes(10), [1, 1, 1, 7]);
        let [c, s, u, a] = level_sizes(100_000);
        assert_eq!(c, 46);
        assert!(s > 5 * c && u > 25 * s && a > 8 * u, "{c} {s} {u} {a}");
    }
}
