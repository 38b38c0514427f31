use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "places")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub contact_type: String,
    pub name: String,
    /// Lower-cased, accent-free, space-collapsed `name`, for search.
    pub name_key: String,
    pub parent_id: Option<String>,
    /// Ancestor ids from the root down to the parent, each followed by `/`.
    pub lineage: String,
    pub depth: i32,
    /// The doc's other scalar fields as a JSON object (codes, phones: what staging compares).
    pub properties: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
