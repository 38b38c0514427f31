//! Views of a contact type the portal derives from the config: CSV columns, the CSV template,
//! hierarchy order and the place types to load.

use unicode_normalization::UnicodeNormalization;

use crate::model::{ContactType, HierarchyLevel};

/// Header of the column added when a type has several roles (values separated by spaces).
pub const ROLES_HEADER: &str = "Roles";

/// The form under which CSV headers and `friendly_name`s are compared, so columns match forgivingly.
///
/// Removes byte-order marks and zero-width characters (U+FEFF, U+200B–U+200D, U+2060) wherever they
/// are, normalises to Unicode NFC (so an `é` typed on any system compares equal), lower-cases,
/// turns every run of white space (including no-break spaces, tabs and line breaks) into one
/// space, and trims. Accents and punctuation are kept: "Sous-préfecture" ≠ "Sous prefecture".
#[must_use]
pub fn header_key(header: &str) -> String {
    let visible: String = header
        .chars()
        .filter(|c| !matches!(c, '\u{FEFF}' | '\u{200B}'..='\u{200D}' | '\u{2060}'))
        .nfc()
        .collect();
    visible
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One column of a contact type's CSV upload and template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header as configured (`friendly_name`, or [`ROLES_HEADER`]); compare with
    /// [`header_key`], never byte for byte.
    pub header: String,
    /// Where the value goes.
    pub source: ColumnSource,
    /// Every row needs a value. The replacement column never does: empty means "create a new
    /// user", filled means "replace the user of this place".
    pub required: bool,
    /// The property's help text.
    pub hint: Option<String>,
    /// What a valid value looks like, in words ("a KE phone number", "one of: male, female").
    pub kind_description: String,
}

impl Column {
    /// [`header_key`] of the header.
    #[must_use]
    pub fn key(&self) -> String {
        header_key(&self.header)
    }
}

/// What a CSV column fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnSource {
    /// The ancestor at this hierarchy level ([`HierarchyLevel::level`]).
    Hierarchy {
        /// 1 = parent, 2 = grandparent, …
        level: u32,
    },
    /// The place whose user is replaced (hierarchy level 0, `replacement_property`).
    Replacement,
    /// `place_properties[i]`.
    Place(usize),
    /// `contact_properties[i]`.
    Contact(usize),
    /// The user's roles, when the type has several.
    Roles,
}

impl ContactType {
    /// Hierarchy levels from the parent (level 1) upwards.
    #[must_use]
    pub fn hierarchy_levels_sorted(&self) -> Vec<&HierarchyLevel> {
        let mut levels: Vec<&HierarchyLevel> = self.hierarchy.iter().collect();
        levels.sort_by_key(|l| l.level);
        levels
    }

    /// Users pick roles (a "Roles" column or field appears) because `user_role` lists several.
    #[must_use]
    pub fn has_several_roles(&self) -> bool {
        self.user_role.len() > 1
    }

    /// The CSV columns, in template order, as UMT builds them: the hierarchy from the highest
    /// level down to the parent, then the replacement column, then the place properties and the
    /// contact properties that are not `generated` (in file order), then [`ROLES_HEADER`] when
    /// the type has several roles.
    #[must_use]
    pub fn csv_columns(&self) -> Vec<Column> {
        let mut columns = Vec::new();
        for level in self.hierarchy_levels_sorted().into_iter().rev() {
            columns.push(Column {
                header: level.property.friendly_name.clone(),
                source: ColumnSource::Hierarchy { level: level.level },
                required: level.property.required,
                hint: level.property.hint.clone(),
                kind_description: format!("the name of an existing {}", level.contact_type),
            });
        }
        let replacement = &self.replacement_property;
        columns.push(Column {
            header: replacement.friendly_name.clone(),
            source: ColumnSource::Replacement,
            required: false,
            hint: replacement.hint.clone(),
            kind_description: format!(
                "the name of the existing {} whose user is replaced; leave empty to create a new \
                 user",
                self.name
            ),
        });
        let properties = [
            (
                &self.place_properties,
                ColumnSource::Place as fn(usize) -> ColumnSource,
            ),
            (&self.contact_properties, ColumnSource::Contact),
        ];
        for (list, source) in properties {
            for (i, property) in list.iter().enumerate() {
                if property.kind.is_generated() {
                    continue;
                }
                columns.push(Column {
                    header: property.friendly_name.clone(),
                    source: source(i),
                    required: property.required,
                    hint: property.hint.clone(),
                    kind_description: property.kind.describe(),
                });
            }
        }
        if self.has_several_roles() {
            columns.push(Column {
                header: ROLES_HEADER.to_owned(),
                source: ColumnSource::Roles,
                required: true,
                hint: None,
                kind_description: format!(
                    "one or more of: {} (separated by spaces)",
                    self.user_role.join(", ")
                ),
            });
        }
        columns
    }

    /// The CSV template users download: the header line of [`Self::csv_columns`] and nothing
    /// else, written by the portal's one CSV writer ([`portal_csv::CsvWriter`]: UTF-8 with a
    /// byte-order mark, CRLF, every header quoted and safe to open in a spreadsheet, since a
    /// config's friendly names are text from whoever uploaded it).
    #[must_use]
    pub fn template_csv(&self) -> Vec<u8> {
        let mut csv = portal_csv::CsvWriter::new();
        csv.row(self.csv_columns().iter().map(|c| c.header.as_str()));
        csv.into_bytes()
    }

    /// The CHT place types to load to resolve this type's rows: the type itself (the places a
    /// replacement names, level 0), then each hierarchy level's type from the parent upwards,
    /// each once.
    #[must_use]
    pub fn place_types(&self) -> Vec<&str> {
        let mut types = vec![self.name.as_str()];
        for level in self.hierarchy_levels_sorted() {
            if !types.contains(&level.contact_type.as_str()) {
                types.push(&level.contact_type);
            }
        }
        types
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_key_forgives_case_spacing_and_marks() {
        assert_eq!(header_key("  CHU   Name "), "chu name");
        assert_eq!(header_key("\u{FEFF}Sub County"), "sub county");
        assert_eq!(header_key("Sub\u{00A0}County"), "sub county");
        assert_eq!(header_key("Sub\tCounty\r\n"), "sub county");
        assert_eq!(header_key("Sub\u{200B}County"), "subcounty");
        assert_eq!(header_key("SOUS-PRÉFECTURE"), "sous-préfecture");
        assert_eq!(
            header_key("Sous-pre\u{0301}fecture"),
            header_key("Sous-préfecture")
        );
        assert_ne!(header_key("Sous-prefecture"), header_key("Sous-préfecture"));
        assert_eq!(header_key(""), "");
        assert_eq!(header_key("\u{FEFF} "), "");
    }
}
