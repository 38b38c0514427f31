//! Scopes as casbin sees them: strings a policy scope can be tested against.
//!
//! | what                       | policy scope (`p.scope`) | request scope (`r.scope`)          |
//! |----------------------------|--------------------------|------------------------------------|
//! | the whole tenant           | `*`                      | `*` (tenant settings, access)      |
//! | one instance               | `i:<instance>`           | `i:<instance>`                     |
//! | a place and its subtree    | `i:<instance>/<place>`   | `i:<instance>/<lineage…>/<place>/` |
//!
//! A policy scope covers a request scope when it is `*`; when it names the request's instance
//! and the request is that instance or a place in it; or when the request's place path passes
//! through the policy's place. A place grant therefore never covers instance-level actions.

use portal_domain::{InstanceId, place_path};
use portal_store::access::GrantScope;

/// What a request wants to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The tenant itself: its settings, its access list, anything not inside one instance.
    Tenant,
    /// One instance as a whole (its settings, its place cache).
    Instance(InstanceId),
    /// One place of an instance, placed in the hierarchy by its cached lineage.
    Place {
        instance_id: InstanceId,
        place_id: String,
        lineage: String,
    },
}

impl Target {
    #[must_use]
    pub fn request_scope(&self) -> String {
        match self {
            Self::Tenant => "*".to_owned(),
            Self::Instance(id) => format!("i:{id}"),
            Self::Place {
                instance_id,
                place_id,
                lineage,
            } => format!("i:{instance_id}{lineage}{}/", place_path::segment(place_id)),
        }
    }

    #[must_use]
    pub fn instance_id(&self) -> Option<InstanceId> {
        match self {
            Self::Tenant => None,
            Self::Instance(id)
            | Self::Place {
                instance_id: id, ..
            } => Some(*id),
        }
    }
}

#[must_use]
pub fn policy_scope(scope: &GrantScope) -> String {
    match scope {
        GrantScope::Tenant => "*".to_owned(),
        GrantScope::Instance(id) => format!("i:{id}"),
        GrantScope::Place {
            instance_id,
            place_id,
            ..
        } => format!("i:{instance_id}/{}", place_path::segment(place_id)),
    }
}

/// The matcher's scope test (see the module docs).
#[must_use]
pub fn covers(policy: &str, request: &str) -> bool {
    if policy == "*" {
        return true;
    }
    let Some((policy_instance, policy_place)) = split(policy) else {
        return false;
    };
    let Some((request_instance, request_path)) = split(request) else {
        return false;
    };
    if policy_instance != request_instance {
        return false;
    }
    match policy_place.strip_prefix('/') {
        None => true,
        Some(place) => request_path.contains(&format!("/{place}/")),
    }
}

/// `i:<id>` → (`i:<id>`, ""), `i:<id>/rest` → (`i:<id>`, "/rest").
fn split(scope: &str) -> Option<(&str, &str)> {
    if !scope.starts_with("i:") {
        return None;
    }
    match scope.find('/') {
        Some(at) => Some((&scope[..at], &scope[at..])),
        None => Some((scope, "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(instance: InstanceId, id: &str, ancestors: &[&str]) -> String {
        Target::Place {
            instance_id: instance,
            place_id: id.to_owned(),
            lineage: place_path::lineage(ancestors.iter().copied()),
        }
        .request_scope()
    }

    #[test]
    fn coverage_follows_the_hierarchy() {
        let i = InstanceId::new();
        let other = InstanceId::new();
        let county = policy_scope(&GrantScope::Place {
            instance_id: i,
            place_id: "nairobi".into(),
            place_name: "Nairobi".into(),
        });
        let whole = policy_scope(&GrantScope::Instance(i));
        let ward = place(i, "ward", &["kenya", "nairobi", "westlands"]);
        assert!(covers(&county, &ward));
        assert!(covers(&county, &place(i, "nairobi", &["kenya"])));
        assert!(!covers(&county, &place(i, "kenya", &[])));
        assert!(!covers(&county, &place(i, "kisumu", &["kenya"])));
        assert!(!covers(&county, &Target::Instance(i).request_scope()));
        assert!(!covers(&county, &Target::Tenant.request_scope()));
        assert!(covers(&whole, &ward));
        assert!(covers(&whole, &Target::Instance(i).request_scope()));
        assert!(!covers(&whole, &Target::Tenant.request_scope()));
        assert!(!covers(&whole, &place(other, "ward", &["kenya"])));
        assert!(covers("*", &Target::Tenant.request_scope()));
        assert!(covers("*", &ward));
    }

    #[test]
    fn prefixes_and_forged_ids_do_not_match() {
        let i = InstanceId::new();
        let policy = policy_scope(&GrantScope::Place {
            instance_id: i,
            place_id: "nai".into(),
            place_name: "Nai".into(),
        });
        assert!(!covers(&policy, &place(i, "x", &["nairobi"])));
        assert!(!covers(&policy, &place(i, "nairobi", &[])));
        // An id containing a slash is escaped, so it cannot pose as a path through "nai".
        assert!(!covers(&policy, &place(i, "nai/x", &[])));
        // Another instance whose id starts with this one's cannot match either.
        assert!(!covers(&format!("i:{i}"), &format!("i:{i}0")));
    }
}
