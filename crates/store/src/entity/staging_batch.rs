use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staging_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub instance_id: Uuid,
    pub contact_type: String,
    pub file_name: String,
    /// JSON array of place ids; empty: the whole instance.
    pub anchors: String,
    pub created_by: Option<Uuid>,
    pub created_by_label: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
    pub valid_count: i32,
    pub warning_count: i32,
    pub error_count: i32,
    /// JSON array of notices from decoding (encoding converted, columns ignored).
    pub notices: String,
    /// JSON array of the uploaded header as written; `None` for batches staged before it was kept.
    pub upload_header: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
