//! One change to who may do what: a transaction that holds the authorization lock, and the
//! reads a delegation rule needs inside it.
//!
//! Every change to grants and roles bumps `authz_revision`. Bumping it *first* turns that row
//! into the gate every access change passes: on PostgreSQL a second change waits at its own bump
//! until the first commits, then reads what the first wrote; on SQLite the first statement is a
//! write, so the transaction is the database's only writer from its start. A rule checked inside
//! an [`AccessChange`] (does the grantor still hold what they give, and until when?) therefore
//! still holds when the change commits: no revocation can slip in between check and write.

use portal_domain::{Email, InstanceId, TenantId, UserId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, TransactionTrait,
};

use super::bump_revision;
use crate::Result;
use crate::entity::{cht_instance, place, portal_user};

/// A transaction over grants and roles, begun by taking the authorization lock.
pub struct AccessChange {
    txn: DatabaseTransaction,
}

impl AccessChange {
    /// Begins the transaction and bumps the revision at once (see the module docs).
    pub async fn begin(db: &DatabaseConnection) -> Result<Self> {
        let txn = db.begin().await?;
        bump_revision(&txn).await?;
        Ok(Self { txn })
    }

    /// For reads inside the change.
    #[must_use]
    pub const fn connection(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        Ok(())
    }
}

/// The account with this email, if there is one.
pub async fn user_with_email(db: &impl ConnectionTrait, email: &Email) -> Result<Option<UserId>> {
    Ok(portal_user::Entity::find()
        .filter(portal_user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .map(|m| UserId::from_uuid(m.id)))
}

/// The cached lineage of a place (`/root/…/parent/`), if the place is in the cache.
pub async fn place_lineage(
    db: &impl ConnectionTrait,
    instance: InstanceId,
    place_id: &str,
) -> Result<Option<String>> {
    Ok(
        place::Entity::find_by_id((instance.as_uuid(), place_id.to_owned()))
            .one(db)
            .await?
            .map(|m| m.lineage),
    )
}

/// Whether `instance` is one of `tenant`'s.
pub async fn instance_in_tenant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    instance: InstanceId,
) -> Result<bool> {
    Ok(cht_instance::Entity::find_by_id(instance.as_uuid())
        .filter(cht_instance::Column::TenantId.eq(tenant.as_uuid()))
        .count(db)
        .await?
        > 0)
}
