use sea_orm::entity::prelude::*;

/// A portal person bound to a CHT username on one instance (sign-in with a CHT account).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cht_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub instance_id: Uuid,
    /// As the grant named it.
    pub cht_username: String,
    /// Lower-cased: unique per instance.
    pub username_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
