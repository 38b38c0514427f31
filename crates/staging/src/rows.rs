//! The engine: a contact type's columns, rules, templates and hierarchy, applied to rows.
//!
//! [`Validator`] is compiled once per contact type of a config. [`Engine`] binds it to one
//! [`PlaceIndex`] (building the per-level name maps once) and validates rows: a whole decoded
//! [`Table`] into a [`Batch`], or one edited row. [`Batch`] keeps the staged-duplicate warnings
//! current when rows are edited, added or removed.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::NaiveDate;
use portal_deploy_config::{
    Column, ColumnSource, ConfigProperty, ContactType, PropertyKind, ROLES_HEADER, Unique,
};

use crate::generate::{self, Source, Template};
use crate::hierarchy::{
    KeyRule, KeyScratch, LevelSpec, PlaceIndex, PlaceRef, ReplacementSpec, ResolveScratch,
    Resolver, Scope,
};
use crate::input::{self, ColumnMap, ExpectedColumn, HeaderError, SourceFormat, Table};
use crate::problem::{Problem, ProblemKind};
use crate::text::sanitize_username;
use crate::values::{Kind, Options, PropertyRule, REQUIRED, Scratch, strip_of};
use crate::warnings::{
    KnownValues, Slot, StagedIndex, StagedKeys, Target, UniqueLabel, add, key_hash, on_instance,
};

/// Rows per thread below which a batch is validated on one thread.
const ROWS_PER_THREAD: usize = 4_096;
/// Most threads one batch uses.
const MAX_THREADS: usize = 4;

/// Why a batch could not be validated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StagingError {
    /// The header does not fit the contact type's columns.
    #[error("{0}")]
    Header(#[from] HeaderError),
    /// The config cannot be used (a template the config check let through does not compile).
    #[error("the configuration of \"{contact_type}\" cannot be used: {reason}")]
    Config {
        /// The contact type's `name`.
        contact_type: String,
        /// What is wrong.
        reason: String,
    },
}

/// One value of a staged row: a CSV column, or a `generated` property computed from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The column header / form label (`friendly_name`, or `Roles`).
    pub header: String,
    /// The attribute written on the CHT document (`roles` for the Roles column).
    pub property_name: String,
    /// What the value fills.
    pub source: ColumnSource,
    /// Computed from a template, not entered: not a CSV column.
    pub generated: bool,
    /// An empty value is an error (never for the replacement column).
    pub required: bool,
}

pub use portal_domain::RowStatus;

/// One validated row.
///
/// Raw values (what was uploaded or typed, per CSV column) are the source of truth: store them,
/// and rebuild everything else with [`Engine::validate_one`]. Values are held in one buffer per
/// row and read with [`StagedRow::raw`] and [`StagedRow::value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRow {
    line: usize,
    columns: u32,
    own_warnings: u32,
    replacing: bool,
    status: RowStatus,
    /// Raw values (per column) then formatted values (per field), back to back.
    text: Box<str>,
    ends: Box<[u32]>,
    /// The resolved hierarchy levels, parent first, then the replaced place.
    places: Box<[Option<PlaceRef>]>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    keys: StagedKeys,
}

impl StagedRow {
    /// The row's line in the uploaded file (spreadsheet row), or what the caller passed to
    /// [`Engine::validate_one`].
    #[must_use]
    pub const fn line(&self) -> usize {
        self.line
    }

    fn slice(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).map_or(0, |&e| e as usize)
        };
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    /// The value of CSV column `column` as entered (trimmed); empty past the last column.
    #[must_use]
    pub fn raw(&self, column: usize) -> &str {
        if column < self.columns as usize {
            self.slice(column)
        } else {
            ""
        }
    }

    /// Every CSV column's value as entered, in [`Validator::columns`] order.
    pub fn raw_values(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.columns as usize).map(|c| self.slice(c))
    }

    /// The formatted value of field `field` ([`Validator::fields`]): what would be written to
    /// CHT (phones in E.164, names title-cased, option keys, generated text). Empty when the
    /// value is empty or invalid.
    #[must_use]
    pub fn value(&self, field: usize) -> &str {
        let columns = self.columns as usize;
        if field < self.ends.len().saturating_sub(columns) {
            self.slice(columns + field)
        } else {
            ""
        }
    }

    /// The places the hierarchy columns resolved to, parent (level 1) first, one per
    /// [`Validator::levels`] entry; `None` where unresolved (or an optional level left empty
    /// with no parent to derive it from).
    #[must_use]
    pub fn hierarchy(&self) -> &[Option<PlaceRef>] {
        self.places.split_last().map_or(&[], |(_, levels)| levels)
    }

    /// The parent place (hierarchy level 1), when resolved.
    #[must_use]
    pub fn parent(&self) -> Option<&PlaceRef> {
        self.hierarchy().first().and_then(Option::as_ref)
    }

    /// The place whose user this row replaces, when the replacement column resolved.
    #[must_use]
    pub fn replacement(&self) -> Option<&PlaceRef> {
        self.places.last().and_then(Option::as_ref)
    }

    /// The replacement column is filled: the row replaces a user rather than creating a place.
    #[must_use]
    pub const fn is_replacement(&self) -> bool {
        self.replacing
    }

    /// Valid, warning or error.
    #[must_use]
    pub const fn status(&self) -> RowStatus {
        self.status
    }

    /// Errors, in column order; empty for valid rows.
    #[must_use]
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Dismissible warnings (duplicates on the instance, then among staged rows).
    #[must_use]
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Whether some parent or replaced place is staged, not yet on the instance: the row must
    /// be uploaded after it.
    #[must_use]
    pub fn depends_on_staged(&self) -> bool {
        self.places.iter().flatten().any(PlaceRef::is_staged)
    }

    /// Appends `note` to the message of the row's error of `kind` in `column`, to say why it
    /// happened (a parent that was to be staged elsewhere and no longer is). `false` when the
    /// row has no such error.
    pub fn amend_problem(&mut self, kind: ProblemKind, column: &str, note: &str) -> bool {
        let Some(problem) = self
            .problems
            .iter_mut()
            .find(|p| p.kind == kind && p.column.as_deref() == Some(column))
        else {
            return false;
        };
        let message = problem.message.trim_end_matches('.');
        problem.message = format!("{message}. {note}");
        true
    }

    /// Adds warnings of the row's own (not about other staged rows), such as a value the
    /// deployment profile could not copy.
    pub fn add_own_warnings(&mut self, warnings: impl IntoIterator<Item = Problem>) {
        for warning in warnings {
            let at = (self.own_warnings as usize).min(self.warnings.len());
            self.warnings.insert(at, warning);
            self.own_warnings += 1;
        }
        self.refresh_status();
    }

    fn refresh_status(&mut self) {
        self.status = if !self.problems.is_empty() {
            RowStatus::Error
        } else if !self.warnings.is_empty() {
            RowStatus::Warning
        } else {
            RowStatus::Valid
        };
    }
}

/// A `unique` property, as the engine checks it.
#[derive(Debug, Clone)]
struct UniqueSpec {
    field: usize,
    target: Target,
    property_name: String,
    label: UniqueLabel,
    key: KeyRule,
    /// The place's `name`: compared with the names of places in the index.
    place_name: bool,
}

/// A contact type compiled for validation: rules, hierarchy levels, templates, unique checks.
/// Build once per config (it is `Send + Sync`) and share.
#[derive(Debug)]
pub struct Validator {
    contact_type: String,
    username_from_place: bool,
    user_roles: Vec<String>,
    columns: Vec<Column>,
    fields: Vec<Field>,
    rules: Vec<PropertyRule>,
    /// Parent first; with the field each level's text is in.
    levels: Vec<(LevelSpec, usize)>,
    replacement: (ReplacementSpec, usize),
    templates: Vec<(usize, Template)>,
    unique: Vec<UniqueSpec>,
    contact_name: Option<usize>,
    place_name: Option<usize>,
    roles: Option<usize>,
}

fn key_rule(kind: &PropertyKind) -> KeyRule {
    match kind {
        PropertyKind::Name { strip } => KeyRule::Name(strip_of(strip)),
        PropertyKind::String => KeyRule::String,
        _ => KeyRule::Plain,
    }
}

impl Validator {
    /// Compiles a contact type.
    ///
    /// # Errors
    /// [`StagingError::Config`] if a `generated` template does not compile (a config that
    /// passed `portal_deploy_config::check` always compiles).
    pub fn new(contact_type: &ContactType) -> Result<Self, StagingError> {
        let config_error = |reason: String| StagingError::Config {
            contact_type: contact_type.name.clone(),
            reason,
        };
        let columns = contact_type.csv_columns();
        let mut fields = Vec::new();
        let mut rules = Vec::new();
        let property_of = |source: ColumnSource| -> Option<&ConfigProperty> {
            match source {
                ColumnSource::Hierarchy { level } => contact_type
                    .hierarchy
                    .iter()
                    .find(|l| l.level == level)
                    .map(|l| &l.property),
                ColumnSource::Replacement => Some(&contact_type.replacement_property),
                ColumnSource::Place(i) => contact_type.place_properties.get(i),
                ColumnSource::Contact(i) => contact_type.contact_properties.get(i),
                ColumnSource::Roles => None,
            }
        };
        for column in &columns {
            let (property_name, rule) = match property_of(column.source) {
                Some(property) => (property.property_name.clone(), PropertyRule::new(property)),
                None => {
                    let options: Vec<(String, String)> = contact_type
                        .user_role
                        .iter()
                        .map(|r| (r.clone(), r.clone()))
                        .collect();
                    let kind = Kind::SelectMultiple(Options::new(&options));
                    (
                        "roles".to_owned(),
                        PropertyRule::from_parts(ROLES_HEADER, "roles", true, kind),
                    )
                }
            };
            fields.push(Field {
                header: column.header.clone(),
                property_name,
                source: column.source,
                generated: false,
                required: column.required,
            });
            rules.push(rule);
        }
        let mut sources = Vec::new();
        let generated = [
            (
                &contact_type.place_properties,
                ColumnSource::Place as fn(usize) -> ColumnSource,
            ),
            (&contact_type.contact_properties, ColumnSource::Contact),
        ];
        for (list, source) in generated {
            for (i, property) in list.iter().enumerate() {
                let PropertyKind::Generated { template } = &property.kind else {
                    continue;
                };
                sources.push((fields.len(), template));
                fields.push(Field {
                    header: property.friendly_name.clone(),
                    property_name: property.property_name.clone(),
                    source: source(i),
                    generated: true,
                    required: property.required,
                });
                rules.push(PropertyRule::new(property));
            }
        }
        let field_of = |source: ColumnSource| fields.iter().position(|f| f.source == source);
        let mut levels = Vec::new();
        for level in contact_type.hierarchy_levels_sorted() {
            let Some(field) = field_of(ColumnSource::Hierarchy { level: level.level }) else {
                continue;
            };
            let spec = LevelSpec {
                level: level.level,
                column: level.property.friendly_name.clone(),
                contact_type: level.contact_type.clone(),
                required: level.property.required,
                key: key_rule(&level.property.kind),
            };
            levels.push((spec, field));
        }
        let parser = liquid::ParserBuilder::with_stdlib()
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        let resolve = |scope: generate::Scope, member: &str| {
            let found = match scope {
                generate::Scope::Lineage => levels
                    .iter()
                    .position(|(_, f): &(LevelSpec, usize)| fields[*f].property_name == member)
                    .map(Source::Level),
                generate::Scope::Place | generate::Scope::Contact => fields
                    .iter()
                    .position(|f| {
                        f.property_name == member
                            && matches!(
                                (scope, f.source),
                                (generate::Scope::Place, ColumnSource::Place(_))
                                    | (generate::Scope::Contact, ColumnSource::Contact(_))
                            )
                    })
                    .map(Source::Field),
            };
            found.unwrap_or(Source::Missing)
        };
        let mut templates = Vec::with_capacity(sources.len());
        for (field, source) in sources {
            let template = Template::compile(source, &parser, &resolve).map_err(config_error)?;
            templates.push((field, template));
        }
        let replacement_field = field_of(ColumnSource::Replacement).unwrap_or(0);
        let replacement = ReplacementSpec {
            column: contact_type.replacement_property.friendly_name.clone(),
            contact_type: contact_type.name.clone(),
            key: key_rule(&contact_type.replacement_property.kind),
        };
        let mut unique = Vec::new();
        let lists = [
            (&contact_type.place_properties, Target::Place),
            (&contact_type.contact_properties, Target::Contact),
        ];
        for (list, target) in lists {
            for (i, property) in list.iter().enumerate() {
                let Some(scope) = property.unique else {
                    continue;
                };
                let source = match target {
                    Target::Place => ColumnSource::Place(i),
                    Target::Contact => ColumnSource::Contact(i),
                };
                let Some(field) = field_of(source) else {
                    continue;
                };
                unique.push(UniqueSpec {
                    field,
                    target,
                    property_name: property.property_name.clone(),
                    label: UniqueLabel {
                        column: property.friendly_name.clone(),
                        parent: scope == Unique::Parent,
                    },
                    key: key_rule(&property.kind),
                    place_name: target == Target::Place && property.property_name == "name",
                });
            }
        }
        let named = |list: &[ConfigProperty], source: fn(usize) -> ColumnSource| {
            list.iter()
                .position(|p| p.property_name == "name")
                .and_then(|i| field_of(source(i)))
        };
        Ok(Self {
            contact_type: contact_type.name.clone(),
            username_from_place: contact_type.username_from_place,
            user_roles: contact_type.user_role.clone(),
            contact_name: named(&contact_type.contact_properties, ColumnSource::Contact),
            place_name: named(&contact_type.place_properties, ColumnSource::Place),
            roles: field_of(ColumnSource::Roles),
            columns,
            fields,
            rules,
            levels,
            replacement: (replacement, replacement_field),
            templates,
            unique,
        })
    }

    /// The contact type's `name` (its CHT place type).
    #[must_use]
    pub fn contact_type(&self) -> &str {
        &self.contact_type
    }

    /// The CSV columns, in template order (`ContactType::csv_columns`). Raw values are indexed
    /// by these.
    #[must_use]
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Matches a file's header to [`Self::columns`] ([`input::match_columns`]).
    ///
    /// # Errors
    /// [`HeaderError`] when required columns are missing or a column repeats.
    pub fn column_map(&self, header: &[String]) -> Result<ColumnMap, HeaderError> {
        let expected: Vec<ExpectedColumn<'_>> = self
            .columns
            .iter()
            .map(|c| ExpectedColumn {
                header: &c.header,
                required: c.required,
            })
            .collect();
        input::match_columns(header, &expected)
    }

    /// Every field: first the CSV columns (same indexes as [`Self::columns`]), then the
    /// `generated` place and contact properties. Formatted values are indexed by these.
    #[must_use]
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field index of a property (`Target::Place`, `"name"`), if the type has it.
    #[must_use]
    pub fn field(&self, target: Target, property_name: &str) -> Option<usize> {
        self.fields.iter().position(|f| {
            f.property_name == property_name
                && matches!(
                    (f.source, target),
                    (ColumnSource::Place(_), Target::Place)
                        | (ColumnSource::Contact(_), Target::Contact)
                )
        })
    }

    /// The hierarchy levels, parent first: `(level, column header, place type)`. Matches
    /// [`StagedRow::hierarchy`].
    pub fn levels(&self) -> impl Iterator<Item = (u32, &str, &str)> + '_ {
        self.levels
            .iter()
            .map(|(s, _)| (s.level, s.column.as_str(), s.contact_type.as_str()))
    }

    /// The field of the place's `name` (what a row that creates a place calls it).
    #[must_use]
    pub const fn place_name_field(&self) -> Option<usize> {
        self.place_name
    }

    /// The rule of field `field`, to format or check one value on its own.
    #[must_use]
    pub fn rule(&self, field: usize) -> Option<&PropertyRule> {
        self.rules.get(field)
    }

    /// A value read from CHT, formatted as staged values of that property are (phones in
    /// E.164), for [`KnownValues`]; the value trimmed when it does not pass its rule.
    #[must_use]
    pub fn normalize_known(&self, target: Target, property_name: &str, value: &str) -> String {
        let far_future = NaiveDate::MAX;
        self.field(target, property_name)
            .and_then(|f| self.rules.get(f))
            .and_then(|rule| rule.check(value, far_future).ok())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| value.trim().to_owned())
    }

    /// The CHT username for a row (UMT §4.4): the contact's formatted name, or the place's with
    /// `username_from_place`, or the replacement text when that is empty; then sanitised
    /// ([`sanitize_username`]). `None` when nothing usable is left; the caller then picks a
    /// fallback. Uniqueness against CHT is the caller's concern (CHT answers "already taken").
    #[must_use]
    pub fn username_for(&self, row: &StagedRow) -> Option<String> {
        let preferred = if self.username_from_place {
            self.place_name
        } else {
            self.contact_name
        };
        let name = preferred.map(|f| row.value(f)).unwrap_or_default();
        let name = if name.is_empty() {
            row.raw(self.replacement.1)
        } else {
            name
        };
        sanitize_username(name)
    }

    /// The CHT roles of a row's user: the only role, or the ones in the Roles column.
    #[must_use]
    pub fn roles_for(&self, row: &StagedRow) -> Vec<String> {
        match self.roles {
            Some(field) => row
                .value(field)
                .split(' ')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            None => self.user_roles.clone(),
        }
    }
}

/// A [`Validator`] bound to an instance's [`PlaceIndex`] (and optionally its [`KnownValues`]).
///
/// Building it indexes the names of the hierarchy levels' places (O(places of those types)), so
/// build it once per index snapshot and keep it (it owns `Arc`s, is `Send + Sync` and has no
/// lifetime) for the batch and every later edit; build a new one after adding staged places.
#[derive(Debug)]
pub struct Engine {
    validator: Arc<Validator>,
    resolver: Resolver,
    known: Option<Arc<KnownValues>>,
    /// Places of the row's own type by the hash of (parent when names are unique among
    /// siblings, name key): one lookup per row even when thousands of places share a common
    /// name. See [`own_name_key`].
    own_names: HashMap<u64, Slot<u32>>,
}

/// Per-thread buffers.
#[derive(Debug, Default)]
struct Worker {
    scratch: Scratch,
    values: Vec<String>,
    keys: KeyScratch,
    resolve: ResolveScratch,
    rendered: String,
}

impl Engine {
    /// Binds a validator to an instance's places.
    #[must_use]
    pub fn new(validator: Arc<Validator>, index: Arc<PlaceIndex>) -> Self {
        let specs = validator.levels.iter().map(|(s, _)| s.clone()).collect();
        let resolver = Resolver::new(Arc::clone(&index), specs, validator.replacement.0.clone());
        let mut own_names: HashMap<u64, Slot<u32>> = HashMap::new();
        if let Some(spec) = validator.unique.iter().find(|u| u.place_name) {
            if let Some(kind) = index.kind(&validator.contact_type) {
                let mut scratch = KeyScratch::default();
                for &i in index.members(kind) {
                    let parent = if spec.label.parent {
                        index.parent(i)
                    } else {
                        None
                    };
                    let key = own_name_key(parent, spec.key.fuzzy(index.name(i), &mut scratch));
                    add(&mut own_names, key, i);
                }
            }
        }
        Self {
            validator,
            resolver,
            known: None,
            own_names,
        }
    }

    /// Also compare `unique` values with these values read from the instance.
    #[must_use]
    pub fn with_known_values(mut self, known: Arc<KnownValues>) -> Self {
        self.known = Some(known);
        self
    }

    /// The validator this engine applies.
    #[must_use]
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// The places this engine resolves against.
    #[must_use]
    pub fn index(&self) -> &PlaceIndex {
        self.resolver.index()
    }

    /// Validates a decoded upload: matches its header, then validates every row (on several
    /// threads for large files), then finds duplicates among the rows.
    ///
    /// # Errors
    /// [`StagingError::Header`] when required columns are missing or a column repeats.
    pub fn validate_table(
        &self,
        table: &Table,
        scope: &Scope,
        today: NaiveDate,
    ) -> Result<Batch, StagingError> {
        let map = self.validator.column_map(&table.header)?;
        let mut notices = table.notices.clone();
        notices.extend(map.notices());
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_THREADS)
            .min(table.len() / ROWS_PER_THREAD)
            .max(1);
        // Each thread fills its own part of one pre-sized vector: no concatenation copies.
        let mut rows: Vec<Option<StagedRow>> = Vec::with_capacity(table.len());
        rows.resize_with(table.len(), || None);
        let chunk = table.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let mut parts = rows.chunks_mut(chunk).enumerate();
            let first = parts.next();
            for (t, part) in parts {
                let map = &map;
                s.spawn(move || self.fill(table, map, t * chunk, part, scope, today));
            }
            if let Some((_, part)) = first {
                self.fill(table, &map, 0, part, scope, today);
            }
        });
        Ok(self.batch_of(rows, notices))
    }

    /// Validates the table's rows from `start` into `out`.
    fn fill(
        &self,
        table: &Table,
        map: &ColumnMap,
        start: usize,
        out: &mut [Option<StagedRow>],
        scope: &Scope,
        today: NaiveDate,
    ) {
        let mut worker = Worker::default();
        let mut cells: Vec<&str> = Vec::with_capacity(map.positions.len());
        let header_len = table.header.len();
        let csv = matches!(table.format, SourceFormat::Csv { .. });
        for (offset, slot) in out.iter_mut().enumerate() {
            let Some(row) = table.row(start + offset) else {
                continue;
            };
            cells.clear();
            cells.extend(
                map.positions
                    .iter()
                    .map(|p| p.and_then(|p| row.get(p)).unwrap_or_default()),
            );
            let ragged = if csv { ragged(&row, header_len) } else { None };
            *slot = Some(self.validate_cells(row.line, &cells, ragged, scope, today, &mut worker));
        }
    }

    /// Re-validates one row from its raw values (per CSV column, in [`Validator::columns`]
    /// order; missing trailing values are empty), for example after an inline edit. The result
    /// has no staged-duplicate warnings: give it to [`Batch::replace`] or [`Batch::push`].
    #[must_use]
    pub fn validate_one(
        &self,
        line: usize,
        raw: &[&str],
        scope: &Scope,
        today: NaiveDate,
    ) -> StagedRow {
        let columns = self.validator.columns.len();
        let cells: Vec<&str> = (0..columns)
            .map(|c| raw.get(c).copied().unwrap_or(""))
            .collect();
        self.validate_cells(line, &cells, None, scope, today, &mut Worker::default())
    }

    /// Builds a batch from rows validated by this engine (restored from storage, say), finding
    /// duplicates among them.
    #[must_use]
    pub fn batch(&self, rows: Vec<StagedRow>, notices: Vec<String>) -> Batch {
        self.batch_of(rows.into_iter().map(Some).collect(), notices)
    }

    fn batch_of(&self, rows: Vec<Option<StagedRow>>, notices: Vec<String>) -> Batch {
        let labels = self
            .validator
            .unique
            .iter()
            .map(|u| u.label.clone())
            .collect();
        let fields = self.validator.unique.iter().map(|u| u.field).collect();
        let mut batch = Batch {
            index: StagedIndex::new(self.validator.unique.len()),
            rows,
            notices,
            labels,
            fields,
        };
        for (i, row) in batch.rows.iter().enumerate() {
            if let Some(row) = row {
                batch.index.insert(i, &row.keys);
            }
        }
        for i in 0..batch.rows.len() {
            batch.refresh(i);
        }
        batch
    }

    fn validate_cells(
        &self,
        line: usize,
        cells: &[&str],
        ragged: Option<Problem>,
        scope: &Scope,
        today: NaiveDate,
        w: &mut Worker,
    ) -> StagedRow {
        let v = &*self.validator;
        let cell = |c: usize| cells.get(c).copied().unwrap_or("").trim();
        let replacement_text = cell(v.replacement.1);
        let replacing = !replacement_text.is_empty();

        // Every entered value, formatted and checked; hierarchy cells too, since matching
        // compares their formatted form.
        let mut value_problems = Vec::new();
        w.values.resize_with(v.fields.len(), String::new);
        for (f, field) in v.fields.iter().enumerate() {
            let value = &mut w.values[f];
            value.clear();
            if field.generated {
                continue;
            }
            let raw = cell(f);
            // The resolver reports empty hierarchy cells; a replacement needs no place values.
            let optional_here = matches!(
                field.source,
                ColumnSource::Hierarchy { .. } | ColumnSource::Replacement
            ) || (replacing && matches!(field.source, ColumnSource::Place(_)));
            if raw.is_empty() && optional_here {
                continue;
            }
            if let Err(invalid) = v.rules[f].check_into(raw, today, &mut w.scratch, value) {
                value.clear();
                if !(optional_here && invalid.kind == ProblemKind::Required) {
                    value_problems.push(Problem::new(
                        invalid.kind,
                        Some(&field.header),
                        raw,
                        invalid.message,
                        invalid.fix,
                    ));
                }
            }
        }

        // Levels are few: their cells go on the stack (a heap vector only past eight).
        let mut stack_texts = [""; 8];
        let mut stack_formatted = [""; 8];
        let (heap_texts, heap_formatted): (Vec<&str>, Vec<&str>);
        let (texts, formatted): (&[&str], &[&str]) = if v.levels.len() <= stack_texts.len() {
            for (k, (_, f)) in v.levels.iter().enumerate() {
                stack_texts[k] = cell(*f);
                stack_formatted[k] = w.values[*f].as_str();
            }
            (
                &stack_texts[..v.levels.len()],
                &stack_formatted[..v.levels.len()],
            )
        } else {
            heap_texts = v.levels.iter().map(|(_, f)| cell(*f)).collect();
            heap_formatted = v
                .levels
                .iter()
                .map(|(_, f)| w.values[*f].as_str())
                .collect();
            (&heap_texts, &heap_formatted)
        };
        let resolution =
            self.resolver
                .resolve(texts, formatted, replacement_text, scope, &mut w.resolve);
        let mut problems: Vec<Problem> = ragged.into_iter().collect();
        problems.extend(resolution.problems);
        problems.extend(value_problems);

        let incomplete = if v.templates.is_empty() {
            Vec::new()
        } else {
            self.render_generated(&resolution.levels, replacing, w, &mut problems)
        };

        // Duplicates of the instance's values (warnings), and this row's keys for duplicates
        // among staged rows.
        let parent_id = resolution
            .levels
            .first()
            .and_then(Option::as_ref)
            .map(PlaceRef::id_arc);
        let replaced_id = resolution.replacement.as_ref().map(PlaceRef::id_arc);
        let mut warnings = Vec::new();
        let mut unique = Vec::with_capacity(v.unique.len());
        for spec in &v.unique {
            let value = &w.values[spec.field];
            // A value generated from inputs the row already reports is no duplicate's fault.
            if value.is_empty() || incomplete.contains(&spec.field) {
                unique.push(None);
                continue;
            }
            let key = spec.key.fuzzy(value, &mut w.keys);
            if let Some(duplicates) = self.on_instance(spec, value, key, parent_id, replaced_id) {
                warnings.push(on_instance(
                    &spec.label,
                    spec.target,
                    value,
                    &duplicates,
                    self.resolver.index(),
                ));
            }
            unique.push(if spec.label.parent {
                parent_id.map(|p| key_hash(Some(p), key))
            } else {
                Some(key_hash(None, key))
            });
        }
        let keys = StagedKeys {
            unique: unique.into_boxed_slice(),
            replacing: replaced_id.cloned(),
        };

        // Raw values then formatted values, in one buffer.
        let columns = v.columns.len();
        let total: usize = (0..columns).map(|c| cell(c).len()).sum::<usize>()
            + w.values.iter().map(String::len).sum::<usize>();
        let mut text = String::with_capacity(total);
        let mut ends = Vec::with_capacity(columns + v.fields.len());
        for piece in (0..columns)
            .map(cell)
            .chain(w.values.iter().map(String::as_str))
        {
            text.push_str(piece);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        let mut places = resolution.levels;
        places.push(resolution.replacement);
        let mut row = StagedRow {
            line,
            columns: u32::try_from(columns).unwrap_or(u32::MAX),
            own_warnings: u32::try_from(warnings.len()).unwrap_or(u32::MAX),
            replacing,
            status: RowStatus::Valid,
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            places: places.into_boxed_slice(),
            problems,
            warnings,
            keys,
        };
        row.refresh_status();
        row
    }

    /// Places or contacts on the instance holding the same `unique` value (at most five, for
    /// the message), excluding the place the row replaces.
    fn on_instance(
        &self,
        spec: &UniqueSpec,
        value: &str,
        key: &str,
        parent: Option<&Arc<str>>,
        replaced: Option<&Arc<str>>,
    ) -> Option<Vec<Arc<str>>> {
        const SHOWN: usize = 5;
        let index = self.resolver.index();
        let parent_ix = parent.and_then(|p| index.index_of(p));
        if spec.label.parent && parent_ix.is_none() {
            return None;
        }
        let not_replaced = |id: &Arc<str>| replaced.is_none_or(|r| r != id);
        let ids: Vec<Arc<str>> = if spec.place_name {
            let parent = parent_ix.filter(|_| spec.label.parent);
            self.own_names
                .get(&own_name_key(parent, key))
                .map(|places| {
                    places
                        .as_slice()
                        .iter()
                        .map(|&p| index.id(p))
                        .filter(|id| not_replaced(id))
                        .take(SHOWN)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        } else {
            let known = self.known.as_deref()?;
            let same_parent = |id: &Arc<str>| {
                !spec.label.parent || index.index_of(id).and_then(|i| index.parent(i)) == parent_ix
            };
            known
                .places(
                    &self.validator.contact_type,
                    spec.target,
                    &spec.property_name,
                    &crate::text::fold(value),
                )
                .iter()
                .filter(|id| not_replaced(id) && same_parent(id))
                .take(SHOWN)
                .cloned()
                .collect()
        };
        (!ids.is_empty()).then_some(ids)
    }

    /// Renders the `generated` fields in order (a template may use an earlier one's value).
    /// Returns the fields whose template read an input this row reports a problem on (blank or
    /// invalid), or an earlier such field: their value is incomplete.
    fn render_generated(
        &self,
        levels: &[Option<PlaceRef>],
        replacing: bool,
        w: &mut Worker,
        problems: &mut Vec<Problem>,
    ) -> Vec<usize> {
        let mut incomplete = Vec::new();
        let v = &*self.validator;
        let level_name = |k: usize, values: &[String]| -> String {
            match levels.get(k).and_then(Option::as_ref) {
                Some(place) => place.name().to_owned(),
                None => v
                    .levels
                    .get(k)
                    .and_then(|(_, f)| values.get(*f))
                    .cloned()
                    .unwrap_or_default(),
            }
        };
        let mut rendered = std::mem::take(&mut w.rendered);
        for (field, template) in &v.templates {
            let globals = template.needs_liquid().then(|| {
                let pairs = |place: bool| {
                    v.fields
                        .iter()
                        .zip(&w.values)
                        .filter_map(move |(f, value)| {
                            let wanted = if place {
                                matches!(f.source, ColumnSource::Place(_))
                            } else {
                                matches!(f.source, ColumnSource::Contact(_))
                            };
                            wanted.then_some((f.property_name.as_str(), value.as_str()))
                        })
                };
                let lineage = (0..v.levels.len()).map(|k| {
                    (
                        v.fields[v.levels[k].1].property_name.as_str(),
                        level_name(k, &w.values),
                    )
                });
                generate::globals(pairs(true), pairs(false), lineage)
            });
            let value = |source: Source, out: &mut String| match source {
                Source::Field(f) => out.push_str(w.values.get(f).map_or("", String::as_str)),
                Source::Level(k) => match levels.get(k).and_then(Option::as_ref) {
                    Some(place) => out.push_str(place.name()),
                    None => out.push_str(&level_name(k, &w.values)),
                },
                Source::Missing => {}
            };
            let result = template.render(&value, globals.as_ref(), &mut rendered);
            let reported =
                |header: &str| problems.iter().any(|p| p.column.as_deref() == Some(header));
            let blank_input = template.reads_any(&|source| match source {
                Source::Field(f) => {
                    incomplete.contains(&f)
                        || (w.values[f].is_empty() && reported(&v.fields[f].header))
                }
                Source::Level(k) => {
                    levels.get(k).and_then(Option::as_ref).is_none()
                        && v.levels
                            .get(k)
                            .is_some_and(|(spec, _)| reported(&spec.column))
                }
                Source::Missing => false,
            });
            if blank_input {
                incomplete.push(*field);
            }
            let f = &v.fields[*field];
            let out = &mut w.values[*field];
            out.clear();
            match result {
                Ok(()) => {
                    for word in rendered.split_whitespace() {
                        if !out.is_empty() {
                            out.push(' ');
                        }
                        out.push_str(word);
                    }
                    let place_field = matches!(f.source, ColumnSource::Place(_));
                    if out.is_empty() && f.required && !(replacing && place_field) {
                        problems.push(Problem::new(
                            ProblemKind::Required,
                            Some(&f.header),
                            "",
                            REQUIRED,
                            format!(
                                "\"{}\" is generated from other columns: fill in the values it \
                                 uses.",
                                f.header
                            ),
                        ));
                    }
                }
                Err(reason) => problems.push(Problem::new(
                    ProblemKind::Invalid,
                    Some(&f.header),
                    "",
                    "Template cannot be generated",
                    format!(
                        "The configured template could not use this row's values ({reason}): \
                         check the columns it uses."
                    ),
                )),
            }
        }
        w.rendered = rendered;
        incomplete
    }
}

/// The hash of a place's name key (and parent, when names are unique among siblings).
fn own_name_key(parent: Option<u32>, key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    parent.hash(&mut hasher);
    key.hash(&mut hasher);
    hasher.finish()
}

/// The ragged-row problem of a CSV row, if any: fewer cells than the header, or more with
/// something in the extra ones.
fn ragged(row: &input::Row<'_>, header_len: usize) -> Option<Problem> {
    let len = row.len();
    if len < header_len {
        return Some(Problem::new(
            ProblemKind::Ragged,
            None,
            "",
            format!("This row has {len} cells but the header has {header_len}"),
            "A separator is missing, or a cell holds a line break without quotes: check the row \
             against the header.",
        ));
    }
    let extra: Vec<&str> = (header_len..len)
        .filter_map(|i| row.get(i))
        .filter(|c| !c.is_empty())
        .collect();
    if extra.is_empty() {
        return None;
    }
    Some(Problem::new(
        ProblemKind::Ragged,
        None,
        &extra.join(", "),
        format!("This row has {len} cells, more than the {header_len} columns of the header"),
        "A cell probably holds a separator (\"Doe, Jane\"): put that cell in double quotes, or \
         remove the extra cells.",
    ))
}

/// Staged rows of one contact type, with their duplicates among each other kept current.
///
/// Row indexes are stable: removing a row leaves a gap, so indexes can be used as ids.
#[derive(Debug, Clone)]
pub struct Batch {
    rows: Vec<Option<StagedRow>>,
    notices: Vec<String>,
    index: StagedIndex,
    labels: Vec<UniqueLabel>,
    fields: Vec<usize>,
}

impl Batch {
    /// Things the uploader should know that are not errors: the file's encoding when converted,
    /// ignored columns.
    #[must_use]
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    /// The rows with their indexes, in order (removed rows skipped).
    pub fn rows(&self) -> impl Iterator<Item = (usize, &StagedRow)> + '_ {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
    }

    /// Row `index`, unless removed.
    #[must_use]
    pub fn row(&self, index: usize) -> Option<&StagedRow> {
        self.rows.get(index).and_then(Option::as_ref)
    }

    /// Number of rows (removed rows not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.iter().flatten().count()
    }

    /// Whether no rows are left.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows per status.
    #[must_use]
    pub fn counts(&self) -> portal_domain::RowCounts {
        self.rows().map(|(_, row)| row.status).collect()
    }

    /// Replaces row `index` (from [`Engine::validate_one`] after an edit). Returns the indexes
    /// of the rows whose warnings may have changed (the row itself included), for the UI to
    /// redraw; only rows sharing the old or new values are touched.
    pub fn replace(&mut self, index: usize, row: StagedRow) -> Vec<usize> {
        if index >= self.rows.len() {
            return self.push(row).1;
        }
        let mut affected = vec![index];
        if let Some(old) = self.rows[index].take() {
            self.index.remove(index, &old.keys);
            self.index.sharing(&old.keys, &mut affected);
        }
        self.index.insert(index, &row.keys);
        self.index.sharing(&row.keys, &mut affected);
        self.rows[index] = Some(row);
        self.refresh_all(affected)
    }

    /// Adds a row at the end. Returns its index and the rows whose warnings may have changed.
    pub fn push(&mut self, row: StagedRow) -> (usize, Vec<usize>) {
        let index = self.rows.len();
        let mut affected = vec![index];
        self.index.insert(index, &row.keys);
        self.index.sharing(&row.keys, &mut affected);
        self.rows.push(Some(row));
        (index, self.refresh_all(affected))
    }

    /// Removes row `index` ("forget"). Returns it and the rows whose warnings may have changed.
    pub fn remove(&mut self, index: usize) -> Option<(StagedRow, Vec<usize>)> {
        let old = self.rows.get_mut(index)?.take()?;
        self.index.remove(index, &old.keys);
        let mut affected = Vec::new();
        self.index.sharing(&old.keys, &mut affected);
        Some((old, self.refresh_all(affected)))
    }

    /// Adds warnings of row `index`'s own ([`StagedRow::add_own_warnings`]).
    pub fn add_own_warnings(&mut self, index: usize, warnings: Vec<Problem>) {
        if let Some(row) = self.rows.get_mut(index).and_then(Option::as_mut) {
            row.add_own_warnings(warnings);
        }
    }

    /// Takes the rows out, in order, with their indexes.
    #[must_use]
    pub fn into_rows(self) -> Vec<(usize, StagedRow)> {
        self.rows
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (i, r)))
            .collect()
    }

    fn refresh_all(&mut self, mut affected: Vec<usize>) -> Vec<usize> {
        affected.sort_unstable();
        affected.dedup();
        for &i in &affected {
            self.refresh(i);
        }
        affected
    }

    /// Recomputes row `i`'s staged-duplicate warnings and its status.
    fn refresh(&mut self, i: usize) {
        let Some(row) = self.rows.get(i).and_then(Option::as_ref) else {
            return;
        };
        let stale = row.warnings.len() > row.own_warnings as usize;
        if !stale && !self.index.has_duplicates(&row.keys) {
            return;
        }
        let rows = &self.rows;
        let line = |r: usize| rows.get(r).and_then(Option::as_ref).map_or(0, |r| r.line);
        let fields = &self.fields;
        let values = |u: usize| {
            fields
                .get(u)
                .map_or_else(String::new, |&f| row.value(f).to_owned())
        };
        let replaced = row.replacement().map(PlaceRef::name);
        let staged = self
            .index
            .warnings(i, &row.keys, &self.labels, replaced, &line, &values);
        if let Some(row) = self.rows.get_mut(i).and_then(Option::as_mut) {
            row.warnings.truncate(row.own_warnings as usize);
            row.warnings.extend(staged);
            row.refresh_status();
        }
    }
}

/// Validates a decoded upload against a contact type in one call: compiles the type, binds it
/// to the index and validates the table. For repeated use (edits, several uploads), keep the
/// [`Engine`] instead.
///
/// # Errors
/// [`StagingError`] when the header does not fit or the config cannot be compiled.
pub fn validate_batch(
    contact_type: &ContactType,
    table: &Table,
    index: Arc<PlaceIndex>,
    scope: &Scope,
    today: NaiveDate,
) -> Result<Batch, StagingError> {
    let validator = Arc::new(Validator::new(contact_type)?);
    Engine::new(validator, index).validate_table(table, scope, today)
}
