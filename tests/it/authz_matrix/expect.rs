//! Who should get what, stated from the product's rules as a person would read them, not from
//! the portal's route table.

use portal_domain::{BuiltinRole, Permission, PermissionSet};

use super::cases::{Case, Expect};
use crate::support::ADMIN_EMAIL;

/// Where a request aims. Tenant A has instances I1 and I2; tenant B has J1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Tenant A, instance I1, place westlands, objects of I1.
    Inside,
    /// Tenant A, instance I2 (place routes: ward2 in I1, outside nairobi), objects of I2.
    Outside,
    /// Tenant B, instance J1, objects of J1.
    OtherTenant,
    /// Tenant A / I1 in the path, but the id after them is tenant B's.
    ForeignTenantId,
    /// Tenant A / I1 in the path, but the id after them is I2's.
    ForeignInstanceId,
    /// A batch of I1 staged for the nairobi subtree (the sub-county manager's area).
    SubCountyBatch,
    /// A batch of I1 staged for the kisumu subtree (outside it).
    OtherSubCountyBatch,
}

impl Position {
    pub const ALL: [Self; 7] = [
        Self::Inside,
        Self::Outside,
        Self::OtherTenant,
        Self::ForeignTenantId,
        Self::ForeignInstanceId,
        Self::SubCountyBatch,
        Self::OtherSubCountyBatch,
    ];

    /// The positions that differ for a route: mixed ids only where the path has an id after
    /// the tenant and instance, anchored batches only for batch routes.
    pub fn for_route(method: &reqwest::Method, template: &str) -> Vec<Self> {
        if !template.contains("{tenant_id}") {
            return vec![Self::Inside];
        }
        let mut positions = vec![Self::Inside, Self::Outside, Self::OtherTenant];
        let has_id = ["{batch_id}", "{grant_id}", "{role_key}", "{place_id}"]
            .iter()
            .any(|id| template.contains(id))
            // The grant form names its scope in the body.
            || (*method == reqwest::Method::POST && template == "/tenants/{tenant_id}/access");
        if has_id {
            positions.push(Self::ForeignTenantId);
        }
        if template.contains("{batch_id}") || template.contains("{place_id}") {
            positions.push(Self::ForeignInstanceId);
        }
        if template.contains("{batch_id}") {
            positions.extend([Self::SubCountyBatch, Self::OtherSubCountyBatch]);
        }
        positions
    }

    /// A mixed-id position: the path is tenant A / I1, the object is someone else's.
    const fn foreign(self) -> bool {
        matches!(self, Self::ForeignTenantId | Self::ForeignInstanceId)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    Tenant,
    Instance(&'static str),
    /// (instance, place): the place and everything below it.
    Place(&'static str, &'static str),
}

pub struct Actor {
    pub name: &'static str,
    pub email: &'static str,
    pub platform_admin: bool,
    pub holdings: Vec<(Held, PermissionSet)>,
}

pub fn actors() -> Vec<Actor> {
    let perms = BuiltinRole::permissions;
    vec![
        Actor {
            name: "national admin",
            email: "national@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Tenant, perms(BuiltinRole::NationalAdmin))],
        },
        Actor {
            name: "county manager (instance)",
            email: "county@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Instance("i1"), perms(BuiltinRole::RegionManager))],
        },
        Actor {
            name: "sub-county manager (place)",
            email: "subcounty@health.go.ke",
            platform_admin: false,
            holdings: vec![(
                Held::Place("i1", "nairobi"),
                perms(BuiltinRole::RegionManager),
            )],
        },
        Actor {
            name: "M&E officer",
            email: "me@health.go.ke",
            platform_admin: false,
            holdings: vec![(Held::Place("i1", "nairobi"), perms(BuiltinRole::MeOfficer))],
        },
        Actor {
            name: "no access",
            email: "nobody@health.go.ke",
            platform_admin: false,
            holdings: vec![],
        },
        Actor {
            name: "platform admin",
            email: ADMIN_EMAIL,
            platform_admin: true,
            holdings: vec![],
        },
    ]
}

/// What a request should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
    /// Past the path's checks, the object named is not the path's own.
    Foreign,
}

/// The cached places of I1 and their ancestors.
fn ancestors(place: &str) -> &'static [&'static str] {
    match place {
        "nairobi" | "kisumu" => &["kenya"],
        "westlands" => &["kenya", "nairobi"],
        "ward1" => &["kenya", "nairobi", "westlands"],
        "ward2" => &["kenya", "kisumu"],
        _ => &[],
    }
}

/// The instance and place a request acts on, in tenant A (tenant B is never held).
struct Spot {
    instance: &'static str,
    place: Option<&'static str>,
}

/// Does a holding cover the spot (the place, or the whole instance when no place)?
fn covers(held: &Held, spot: &Spot) -> bool {
    match held {
        Held::Tenant => true,
        Held::Instance(i) => *i == spot.instance,
        Held::Place(i, p) => {
            *i == spot.instance
                && spot
                    .place
                    .is_some_and(|place| place == *p || ancestors(place).contains(p))
        }
    }
}

/// Does a holding touch the instance at all (the instance, or a place in it)?
fn touches(held: &Held, instance: &str) -> bool {
    match held {
        Held::Tenant => true,
        Held::Instance(i) | Held::Place(i, _) => *i == instance,
    }
}

/// The path's instance and place at a position (mixed ids keep tenant A / I1 in the path).
fn path_spot(position: Position, place_route: bool) -> Spot {
    match position {
        Position::Outside if place_route => Spot {
            instance: "i1",
            place: Some("ward2"),
        },
        Position::Outside => Spot {
            instance: "i2",
            place: None,
        },
        _ => Spot {
            instance: "i1",
            place: place_route.then_some("westlands"),
        },
    }
}

/// The place a form's grant scope (or a revoked grant) names, at a position.
fn grant_spot(position: Position) -> Spot {
    match position {
        Position::Outside => Spot {
            instance: "i1",
            place: Some("ward2"),
        },
        _ => Spot {
            instance: "i1",
            place: Some("westlands"),
        },
    }
}

/// The area a batch was staged for, at a position.
fn batch_spot(position: Position) -> Spot {
    match position {
        Position::Outside => Spot {
            instance: "i2",
            place: None,
        },
        Position::SubCountyBatch => Spot {
            instance: "i1",
            place: Some("nairobi"),
        },
        Position::OtherSubCountyBatch => Spot {
            instance: "i1",
            place: Some("kisumu"),
        },
        _ => Spot {
            instance: "i1",
            place: None,
        },
    }
}

pub fn expected(actor: &Actor, case: &Case, position: Position) -> Outcome {
    let expect = case.expect;
    let tenant_route = !matches!(
        expect,
        Expect::Public | Expect::SignedIn | Expect::PlatformAdmin
    );
    // Another tenant: not even its existence is confirmed to those without access there.
    if tenant_route
        && !actor.platform_admin
        && (position == Position::OtherTenant || actor.holdings.is_empty())
    {
        return Outcome::NotFound;
    }
    let holds = |spot: &Spot, needed: PermissionSet| {
        actor
            .holdings
            .iter()
            .any(|(held, perms)| covers(held, spot) && needed.is_subset_of(perms))
    };
    let one = |p: Option<Permission>| PermissionSet::new(p);
    let place_route = matches!(expect, Expect::OnPlace(_));
    let spot = path_spot(position, place_route);
    let allowed_by_path = actor.platform_admin
        || match expect {
            Expect::Public | Expect::SignedIn | Expect::Member => true,
            Expect::PlatformAdmin => false,
            Expect::OnTenant(p) => actor
                .holdings
                .iter()
                .any(|(held, perms)| *held == Held::Tenant && p.is_none_or(|p| perms.contains(p))),
            Expect::OnInstance(p) => holds(
                &Spot {
                    place: None,
                    ..spot
                },
                one(p),
            ),
            Expect::InInstance(p) | Expect::Batch(p) => {
                actor.holdings.iter().any(|(held, perms)| {
                    touches(held, spot.instance) && p.is_none_or(|p| perms.contains(p))
                })
            }
            Expect::OnPlace(p) => holds(&spot, one(p)),
            Expect::ManagesAccess => actor
                .holdings
                .iter()
                .any(|(_, perms)| perms.contains(Permission::Grant)),
            Expect::GrantsAt => true,
        };
    // A place outside everything the person may act on answers like a place that does not
    // exist, so place ids cannot be probed.
    if !allowed_by_path && place_route && !holds(&spot, PermissionSet::new(None)) {
        return Outcome::NotFound;
    }
    if !allowed_by_path {
        return Outcome::Forbidden;
    }
    // Past the path: an object that is not the path's own is not found, for everyone.
    if position.foreign() {
        return Outcome::Foreign;
    }
    if actor.platform_admin {
        return Outcome::Allowed;
    }
    let allowed = match expect {
        // Giving or revoking the M&E officer role at a place: `grant` and every permission of
        // the role there.
        Expect::GrantsAt => {
            let needed = BuiltinRole::MeOfficer.permissions();
            let needed = PermissionSet::new(needed.iter().chain([Permission::Grant]));
            holds(&grant_spot(position), needed)
        }
        // A batch outside the person's area answers like one that does not exist, so batch
        // ids cannot be probed (still a refusal, audited).
        Expect::Batch(p) if !holds(&batch_spot(position), one(p)) => return Outcome::NotFound,
        _ => true,
    };
    if allowed {
        Outcome::Allowed
    } else {
        Outcome::Forbidden
    }
}
