use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_sign_ins")]
pub struct Model {
    /// SHA-256 of the pending cookie's value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_digest: String,
    pub user_id: Uuid,
    /// Where to go once signed in (already checked to stay on this site).
    pub next_path: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
