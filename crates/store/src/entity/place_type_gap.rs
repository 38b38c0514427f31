use sea_orm::entity::prelude::*;

/// A place type the tenant's deployment config uses that the instance's app_settings lack.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "place_type_gaps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_type: String,
    /// JSON array of what in the config uses the type ("the hierarchy column \"CHU\" of …").
    pub used_by: String,
    pub noted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
