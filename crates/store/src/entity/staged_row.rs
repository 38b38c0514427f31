use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staged_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub batch_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i32,
    pub line: i32,
    /// `valid`, `warning` or `error`.
    pub status: String,
    /// JSON array of the cells as entered.
    pub raw: String,
    /// JSON arrays of problems `{kind, column, value, message, fix}`.
    pub problems: String,
    pub warnings: String,
    pub acknowledged: bool,
    /// JSON array of the row's cells in the uploaded columns the template does not have.
    pub extra_cells: Option<String>,
    /// The place the row creates: its name and resolved parent (`staged:<batch>:<row>` when the
    /// parent is itself staged); `None` for a replacement.
    pub place_name: Option<String>,
    pub parent_id: Option<String>,
    /// JSON object of the place's own properties (from the row's cells).
    pub place_properties: Option<String>,
    /// The staged row that creates this row's parent (kept while it is removed or has errors).
    pub depends_on_batch: Option<Uuid>,
    pub depends_on_idx: Option<i32>,
    pub depends_on_line: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
