use sea_orm::entity::prelude::*;

/// An instance on which its tenant lets people sign in with their CHT account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cht_sign_in_instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: Uuid,
    pub tenant_id: Uuid,
    pub allowed_at: DateTimeUtc,
    pub allowed_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
