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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
