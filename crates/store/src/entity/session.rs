use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// SHA-256 of the cookie value: the table never holds a usable session id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_digest: String,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// Set when the session began at a tenant's identity provider.
    pub oidc_provider_id: Option<Uuid>,
    /// Set when the session began with a CHT account on this instance.
    pub cht_instance_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::portal_user::Entity",
        from = "Column::UserId",
        to = "super::portal_user::Column::Id"
    )]
    User,
}

impl Related<super::portal_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
