use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "second_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The TOTP secret (base32), sealed with the master key bound to the user id.
    pub secret_sealed: String,
    pub created_at: DateTimeUtc,
    /// Empty while enrolment waits for a first correct code.
    pub confirmed_at: Option<DateTimeUtc>,
    /// The last accepted time step: that step and older ones are refused (RFC 6238 §5.2).
    pub last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
