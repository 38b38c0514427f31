//! The model the random chains are checked against: a small place hierarchy, its own
//! coverage test, and for each grant and permission until when the chain behind it allows it.
//! It predicts each attempt's outcome from the rules as the issue states them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portal_access::Holding;
use portal_access::delegation::DelegationError;
use portal_domain::{Permission, PermissionSet, RoleKey};
use uuid::Uuid;

pub(super) const PEOPLE: usize = 5;
pub(super) const CUSTOM_ROLES: [&str; 3] = ["role_a", "role_b", "role_c"];

/// kenya > {nairobi > westlands > ward1, kisumu > ward2}: (id, parent).
pub(super) const PLACES: [(&str, Option<usize>); 6] = [
    ("kenya", None),
    ("nairobi", Some(0)),
    ("westlands", Some(1)),
    ("ward1", Some(2)),
    ("kisumu", Some(0)),
    ("ward2", Some(4)),
];

/// The ids above place `i`, from the root down.
pub(super) fn ancestors(mut i: usize) -> Vec<String> {
    let mut above = Vec::new();
    while let Some(parent) = PLACES[i].1 {
        above.insert(0, PLACES[parent].0.to_owned());
        i = parent;
    }
    above
}

/// A scope of a grant, or a target of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spot {
    Tenant,
    Instance,
    Place(usize),
}

pub(super) const SPOTS: [Spot; 8] = [
    Spot::Tenant,
    Spot::Instance,
    Spot::Place(0),
    Spot::Place(1),
    Spot::Place(2),
    Spot::Place(3),
    Spot::Place(4),
    Spot::Place(5),
];

/// The model's own coverage test, written from the hierarchy, not from `portal_access::scope`.
pub(super) fn covers(scope: Spot, target: Spot) -> bool {
    match (scope, target) {
        (Spot::Tenant, _) | (Spot::Instance, Spot::Instance | Spot::Place(_)) => true,
        (Spot::Place(p), Spot::Place(mut q)) => loop {
            if q == p {
                return true;
            }
            match PLACES[q].1 {
                Some(parent) => q = parent,
                None => return false,
            }
        },
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Actor {
    Root,
    Person(usize),
}

#[derive(Debug)]
pub(super) struct ModelGrant {
    pub(super) id: Uuid,
    pub(super) holder: usize,
    pub(super) role: RoleKey,
    pub(super) spot: Spot,
    pub(super) ends: Option<DateTime<Utc>>,
    pub(super) revoked: bool,
    /// Per permission: until when the chain back to the platform administrator allows it.
    pub(super) allowed: HashMap<Permission, Holding>,
}

impl ModelGrant {
    pub(super) fn active(&self, at: DateTime<Utc>) -> bool {
        !self.revoked && self.ends.is_none_or(|e| e > at)
    }
}

#[derive(Default)]
pub(super) struct Model {
    pub(super) roles: HashMap<RoleKey, PermissionSet>,
    pub(super) grants: Vec<ModelGrant>,
}

/// What an attempt came to, compared between the rules and the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Done(Option<DateTime<Utc>>),
    Own,
    Outside,
    Missing,
    Outlives,
    NotTenantWide,
    RoleBeyond,
    OutlivesEditor,
    Other(String),
}

impl From<&DelegationError> for Outcome {
    fn from(e: &DelegationError) -> Self {
        match e {
            DelegationError::OwnAccess(_) => Self::Own,
            DelegationError::OutsideArea => Self::Outside,
            DelegationError::MissingPermissions { .. } => Self::Missing,
            DelegationError::OutlivesGrantor { .. } => Self::Outlives,
            DelegationError::NotTenantWide => Self::NotTenantWide,
            DelegationError::RoleBeyondEditor { .. } => Self::RoleBeyond,
            DelegationError::OutlivesEditor { .. } => Self::OutlivesEditor,
            other => Self::Other(other.to_string()),
        }
    }
}

impl Model {
    /// `who`'s grants in force at `at` that give `permission` on `target`.
    fn holdings(
        &self,
        who: Actor,
        permission: Permission,
        target: Spot,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &ModelGrant> {
        self.grants.iter().filter(move |g| {
            who == Actor::Person(g.holder)
                && g.active(at)
                && covers(g.spot, target)
                && self.roles[&g.role].contains(permission)
        })
    }

    /// Until when `who` holds `permission` on `target`, as grants say.
    pub(super) fn held(
        &self,
        who: Actor,
        permission: Permission,
        target: Spot,
        at: DateTime<Utc>,
    ) -> Holding {
        if who == Actor::Root {
            return Holding::NoEnd;
        }
        let ends = self
            .holdings(who, permission, target, at)
            .map(|g| Holding::of_expiry(g.ends));
        ends.max().unwrap_or(Holding::NotHeld)
    }

    /// Until when the chains behind `who`'s grants allow them `permission` on `target`.
    pub(super) fn chain_allows(
        &self,
        who: Actor,
        permission: Permission,
        target: Spot,
        at: DateTime<Utc>,
    ) -> Holding {
        if who == Actor::Root {
            return Holding::NoEnd;
        }
        let allowed = self.holdings(who, permission, target, at).map(|g| {
            g.allowed
                .get(&permission)
                .copied()
                .unwrap_or(Holding::NotHeld)
        });
        allowed.max().unwrap_or(Holding::NotHeld)
    }

    pub(super) fn held_set(&self, who: Actor, target: Spot, at: DateTime<Utc>) -> PermissionSet {
        PermissionSet::new(
            Permission::ALL
                .into_iter()
                .filter(|p| self.held(who, *p, target, at).is_held()),
        )
    }

    pub(super) fn predict_give(
        &self,
        by: Actor,
        to: usize,
        role: &RoleKey,
        spot: Spot,
        asked: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Outcome {
        if by == Actor::Person(to) {
            return Outcome::Own;
        }
        let here = self.held_set(by, spot, at);
        let permissions = &self.roles[role];
        if !here.contains(Permission::Grant) {
            return Outcome::Outside;
        }
        if !permissions.is_subset_of(&here) {
            return Outcome::Missing;
        }
        let needed = permissions.iter().chain([Permission::Grant]);
        match needed.map(|p| self.held(by, p, spot, at)).min().unwrap() {
            Holding::NoEnd => Outcome::Done(asked),
            Holding::NotHeld => unreachable!("checked above"),
            Holding::Until(limit) => match asked {
                Some(end) if end <= limit => Outcome::Done(Some(end)),
                Some(end) if end.date_naive() == limit.date_naive() => Outcome::Done(Some(limit)),
                _ => Outcome::Outlives,
            },
        }
    }

    pub(super) fn predict_revoke(
        &self,
        by: Actor,
        grant: &ModelGrant,
        at: DateTime<Utc>,
    ) -> Outcome {
        if by == Actor::Person(grant.holder) {
            return Outcome::Own;
        }
        let here = self.held_set(by, grant.spot, at);
        if !here.contains(Permission::Grant) {
            Outcome::Outside
        } else if !self.roles[&grant.role].is_subset_of(&here) {
            Outcome::Missing
        } else {
            Outcome::Done(None)
        }
    }

    pub(super) fn predict_reshape(
        &self,
        by: Actor,
        role: &RoleKey,
        after: &PermissionSet,
        at: DateTime<Utc>,
    ) -> Outcome {
        let before = &self.roles[role];
        let tenant_wide = self.held_set(by, Spot::Tenant, at);
        if !tenant_wide.contains(Permission::Grant) {
            return Outcome::NotTenantWide;
        }
        if !before.is_subset_of(&tenant_wide) || !after.is_subset_of(&tenant_wide) {
            return Outcome::RoleBeyond;
        }
        let holders = || {
            self.grants
                .iter()
                .filter(|g| &g.role == role && g.active(at))
        };
        if holders().any(|g| by == Actor::Person(g.holder)) {
            return Outcome::Own;
        }
        for g in holders() {
            for p in after.iter().filter(|p| !before.contains(*p)) {
                if self.held(by, p, g.spot, at) < Holding::of_expiry(g.ends) {
                    return Outcome::OutlivesEditor;
                }
            }
        }
        Outcome::Done(None)
    }
}
