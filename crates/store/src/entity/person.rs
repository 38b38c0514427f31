use sea_orm::entity::prelude::*;

/// One `unique`-compared field of a cached place's primary contact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub place_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub property_name: String,
    /// The place's type (the user type whose `contact_properties` mark the field `unique`).
    pub place_type: String,
    pub contact_id: String,
    pub contact_name: String,
    /// Formatted as staged values of the property are (phones in E.164).
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
