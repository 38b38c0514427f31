//! The staging engine of CHT Portal: turns an uploaded spreadsheet into validated staged rows.
//!
//! Pure and synchronous (no I/O, no clock): the caller passes the file's bytes, the instance's
//! cached places, the operator's scope and today's date.
//!
//! 1. [`input::decode`] reads a CSV or spreadsheet into a [`Table`] of trimmed cells.
//! 2. [`Validator::new`] compiles a contact type of the deployment config once;
//!    [`Engine::new`] binds it to a [`PlaceIndex`] of the instance's places.
//! 3. [`Engine::validate_table`] gives a [`Batch`] of [`StagedRow`]s: formatted values, resolved
//!    parents, the place replaced, errors and dismissible warnings, each a [`Problem`] naming the
//!    column, the value, what is wrong and how to fix it.
//! 4. Edits go through [`Engine::validate_one`] and [`Batch::replace`], which keeps warnings
//!    about duplicates among rows current without re-examining the batch.
//! 5. [`inherit()`] applies the deployment profile to a new place: its final name and the
//!    properties it copies from its parent or a sibling.

mod generate;
mod hierarchy;
mod inherit;
pub mod input;
mod problem;
mod rows;
mod text;
mod values;
mod warnings;

pub use hierarchy::{DuplicatePlace, PlaceIndex, PlaceRecord, PlaceRef, Scope};
pub use inherit::{
    Inheritance, InheritedValue, MissingValue, Origin, PlaceSource, PlaceValues, inherit,
};
pub use input::{
    ColumnMap, ERRORS_HEADER, HeaderError, InputError, LINE_HEADER, Limits, Row, SourceFormat,
    Table, decode,
};
pub use problem::{Problem, ProblemKind};
pub use rows::{
    Batch, Engine, Field, RowStatus, StagedRow, StagingError, Validator, validate_batch,
};
pub use text::sanitize_username;
pub use values::{PropertyRule, REQUIRED};
pub use warnings::{ACKNOWLEDGE_BUTTON, KnownValues, Target};
