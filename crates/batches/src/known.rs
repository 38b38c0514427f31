//! Values already on the instance that `unique` properties are compared with.

use portal_deploy_config::ContactType;
use portal_staging::{KnownValues, Target, Validator};
use portal_store::people::IndexedValue;

/// What the instance holds besides place names, loaded with its place index.
#[derive(Debug, Default)]
pub(crate) struct OnInstance {
    /// `(place id, place type, properties as JSON)` of the cached places that have properties.
    pub(crate) places: Vec<(String, String, String)>,
    /// The `unique` fields of the cached places' primary contacts, already formatted as staged
    /// values are (the refresh did it), so loading costs a hash insert per value.
    pub(crate) people: Vec<IndexedValue>,
}

/// Values of `unique` place properties (other than the name, which the index has) held by the
/// instance's places, and of `unique` contact properties held by their primary contacts, so
/// duplicates on the instance are warned about.
pub(crate) fn known_values(
    validator: &Validator,
    contact_type: &ContactType,
    on_instance: &OnInstance,
) -> KnownValues {
    let mut known = KnownValues::new();
    let unique_contact: Vec<&str> = contact_type
        .contact_properties
        .iter()
        .filter(|p| p.unique.is_some())
        .map(|p| p.property_name.as_str())
        .collect();
    if !unique_contact.is_empty() {
        for person in &on_instance.people {
            if person.place_type == contact_type.name
                && unique_contact.contains(&person.property_name.as_str())
            {
                known.insert(
                    &person.place_type,
                    Target::Contact,
                    &person.property_name,
                    &person.place_id,
                    &person.value,
                );
            }
        }
    }
    let unique: Vec<&str> = contact_type
        .place_properties
        .iter()
        .filter(|p| p.unique.is_some() && p.property_name != "name")
        .map(|p| p.property_name.as_str())
        .collect();
    if unique.is_empty() {
        return known;
    }
    for (id, kind, props) in &on_instance.places {
        if *kind != contact_type.name {
            continue;
        }
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(props)
        else {
            continue;
        };
        for name in &unique {
            if let Some(value) = map.get(*name).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }) {
                let normalized = validator.normalize_known(Target::Place, name, &value);
                known.insert(kind, Target::Place, name, id, &normalized);
            }
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kenya_chp() -> ContactType {
        let bytes = include_bytes!("../../deploy-config/tests/fixtures/chis-ke.config.json");
        let config = portal_deploy_config::check(bytes).expect("the Kenya config is valid");
        config
            .contact_type("d_community_health_volunteer_area")
            .expect("the CHP type")
            .clone()
    }

    fn value(place_id: &str, place_type: &str, property: &str, value: &str) -> IndexedValue {
        IndexedValue {
            place_id: place_id.into(),
            place_type: place_type.into(),
            property_name: property.into(),
            value: value.into(),
        }
    }

    #[test]
    fn unique_contact_values_of_the_type_are_known() {
        let kind = kenya_chp();
        let validator = Validator::new(&kind).unwrap();
        let on_instance = OnInstance {
            places: Vec::new(),
            people: vec![
                value("area1", &kind.name, "phone", "+254712345678"),
                // Another type's people, and a field the type does not compare, are not.
                value("chu1", "c_community_health_unit", "phone", "+254700000001"),
                value("area2", &kind.name, "name", "Jane"),
            ],
        };
        let known = known_values(&validator, &kind, &on_instance);
        let mut only_area1 = KnownValues::new();
        only_area1.insert(
            &kind.name,
            Target::Contact,
            "phone",
            "area1",
            "+254712345678",
        );
        assert_eq!(format!("{known:?}"), format!("{only_area1:?}"));
    }
}
