//! Random chains of delegation through the real rules (`portal_access::delegation`, the functions
//! the access and roles pages call), the real store and the real authorizer, on the suite's
//! database (SQLite, or PostgreSQL with `PORTAL_TEST_DATABASE=postgres`).
//!
//! Each case starts from the platform administrator, who makes two national administrators
//! (one for good, one for a while) and a few other holders, and defines tenant roles with
//! random permissions. Then, step by step with time moving on, random people give random roles
//! over random scopes (the tenant, the instance, places of a small hierarchy) to random people
//! (themselves included) until random ends, revoke random grants, and reshape random roles.
//!
//! An independent model follows along. For each grant and permission it keeps until when the
//! chain of grants back to the platform administrator allows it: a grant's end, but no later
//! than what its grantor was allowed when they gave it (or, for a permission a role edit added,
//! what the editor was allowed at the holder's scope). Between steps, at many instants (just
//! before, at and just after every end), the authorizer is asked about every person, target and
//! permission, and must (1) agree with the model on what each holds and (2) never let anyone
//! hold a permission past what its chain allows. Every attempt is also checked to be accepted or
//! refused exactly as the model predicts.

mod model;

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use portal_access::delegation;
use portal_access::{Authorizer, Holding, Principal, Target};
use portal_crypto::MasterKey;
use portal_domain::{BuiltinRole, Email, Permission, PermissionSet, RoleKey, TenantId, UserId};
use portal_store::access::{GrantScope, Grantee, NewGrant};
use portal_store::places::{self, PlaceRecord};
use portal_store::{AuditContext, Db};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::TestDatabase;
use model::{
    Actor, CUSTOM_ROLES, Model, ModelGrant, Outcome, PEOPLE, PLACES, SPOTS, Spot, ancestors,
};

const CASES: u64 = 4;
const STEPS: usize = 30;
struct Case {
    _database: TestDatabase,
    db: Db,
    tenant: TenantId,
    instance: portal_domain::InstanceId,
    people: Vec<UserId>,
    root: Principal,
    authz: Authorizer,
    model: Model,
    rng: StdRng,
    now: DateTime<Utc>,
    seed: u64,
    tally: HashMap<String, usize>,
}

fn email(person: usize) -> Email {
    Email::parse(&format!("p{person}@x.org")).unwrap()
}

impl Case {
    async fn new(seed: u64) -> Self {
        let database = TestDatabase::create().await;
        let db = test_support::migrated(&database.url).await;
        let (tenant, instance) = test_support::tenant_with_instance(
            &db,
            &MasterKey::generate(),
            "Nairobi",
            "https://nairobi.example.org",
            ("portal", "a-long-service-password"),
        )
        .await;
        let records = (0..PLACES.len())
            .map(|i| PlaceRecord {
                id: PLACES[i].0.to_owned(),
                contact_type: format!("level_{}", ancestors(i).len()),
                name: PLACES[i].0.to_uppercase(),
                ancestors: ancestors(i),
                properties: serde_json::Map::new(),
            })
            .collect();
        let types: Vec<String> = (0..4).map(|l| format!("level_{l}")).collect();
        places::replace_types(
            &db,
            &AuditContext::command_line(Utc::now()),
            tenant,
            instance,
            &types,
            records,
        )
        .await
        .unwrap();
        let mut model = Model::default();
        for role in BuiltinRole::ALL {
            model
                .roles
                .insert(RoleKey::builtin(role), role.permissions());
        }
        Self {
            _database: database,
            authz: Authorizer::new(db.clone()),
            db,
            tenant,
            instance,
            people: Vec::new(),
            root: Principal {
                user_id: UserId::new(),
                platform_admin: true,
                restricted_to: None,
            },
            model,
            rng: StdRng::seed_from_u64(seed),
            now: Utc.with_ymd_and_hms(2031, 1, 1, 8, 0, 0).unwrap(),
            seed,
            tally: HashMap::new(),
        }
    }

    fn principal(&self, who: Actor) -> Principal {
        match who {
            Actor::Root => self.root.clone(),
            Actor::Person(i) => Principal {
                user_id: self.people[i],
                platform_admin: false,
                restricted_to: None,
            },
        }
    }

    fn ctx(&self, who: Actor) -> AuditContext {
        AuditContext {
            actor_user_id: match who {
                Actor::Root => None,
                Actor::Person(i) => Some(self.people[i]),
            },
            ..AuditContext::command_line(self.now)
        }
    }

    fn scope(&self, spot: Spot) -> GrantScope {
        match spot {
            Spot::Tenant => GrantScope::Tenant,
            Spot::Instance => GrantScope::Instance(self.instance),
            Spot::Place(i) => GrantScope::Place {
                instance_id: self.instance,
                place_id: PLACES[i].0.to_owned(),
                place_name: PLACES[i].0.to_uppercase(),
            },
        }
    }

    fn target(&self, spot: Spot) -> Target {
        match spot {
            Spot::Tenant => Target::Tenant,
            Spot::Instance => Target::Instance(self.instance),
            Spot::Place(i) => Target::Place {
                instance_id: self.instance,
                place_id: PLACES[i].0.to_owned(),
                lineage: portal_domain::place_path::lineage(
                    ancestors(i).iter().map(String::as_str),
                ),
            },
        }
    }

    fn count(&mut self, what: String) {
        *self.tally.entry(what).or_default() += 1;
    }

    /// Tries a grant through the rules and checks the outcome against the model.
    async fn give(
        &mut self,
        by: Actor,
        to: usize,
        role: RoleKey,
        spot: Spot,
        asked: Option<DateTime<Utc>>,
        by_email: bool,
    ) {
        let expected = self
            .model
            .predict_give(by, to, &role, spot, asked, self.now);
        let grantee = if by_email || to >= self.people.len() {
            Grantee::Invite {
                email: email(to),
                display_name: format!("P{to}"),
            }
        } else {
            Grantee::Existing(self.people[to])
        };
        let result = delegation::give_access(
            &self.db,
            &self.ctx(by),
            &self.principal(by),
            grantee,
            NewGrant {
                tenant_id: self.tenant,
                role_key: role.clone(),
                scope: self.scope(spot),
                expires_at: asked,
            },
        )
        .await;
        let outcome = match &result {
            Ok((grant, _)) => Outcome::Done(grant.expires_at),
            Err(e) => e.into(),
        };
        assert_eq!(
            outcome, expected,
            "seed {} at {}: {by:?} gives {role} over {spot:?} to P{to} until {asked:?}",
            self.seed, self.now
        );
        self.count(format!("give {}", outcome_name(&outcome)));
        let Ok((grant, user)) = result else { return };
        if to == self.people.len() {
            self.people.push(user.id);
        }
        let ends = grant.expires_at;
        let allowed = self.model.roles[&role]
            .iter()
            .map(|p| {
                (
                    p,
                    Holding::of_expiry(ends).min(self.model.chain_allows(by, p, spot, self.now)),
                )
            })
            .collect();
        self.model.grants.push(ModelGrant {
            id: grant.id,
            holder: to,
            role,
            spot,
            ends,
            revoked: false,
            allowed,
        });
    }

    async fn revoke(&mut self, by: Actor, index: usize) {
        let expected = self
            .model
            .predict_revoke(by, &self.model.grants[index], self.now);
        let id = self.model.grants[index].id;
        let result = delegation::revoke_access(
            &self.db,
            &self.ctx(by),
            &self.principal(by),
            self.tenant,
            id,
        )
        .await;
        let outcome = match &result {
            Ok(_) => Outcome::Done(None),
            Err(e) => e.into(),
        };
        assert_eq!(
            outcome, expected,
            "seed {} at {}: {by:?} revokes grant #{index}",
            self.seed, self.now
        );
        self.count(format!("revoke {}", outcome_name(&outcome)));
        if result.is_ok() {
            self.model.grants[index].revoked = true;
        }
    }

    async fn reshape(&mut self, by: Actor, role: RoleKey, after: PermissionSet) {
        let expected = self.model.predict_reshape(by, &role, &after, self.now);
        let result = delegation::save_role(
            &self.db,
            &self.ctx(by),
            &self.principal(by),
            self.tenant,
            &role,
            role.as_str(),
            &after,
        )
        .await;
        let outcome = match &result {
            Ok(()) => Outcome::Done(None),
            Err(e) => e.into(),
        };
        assert_eq!(
            outcome, expected,
            "seed {} at {}: {by:?} makes {role} {after:?}",
            self.seed, self.now
        );
        self.count(format!("reshape {}", outcome_name(&outcome)));
        if result.is_err() {
            return;
        }
        let before = self
            .model
            .roles
            .insert(role.clone(), after.clone())
            .unwrap_or_default();
        let now = self.now;
        for index in 0..self.model.grants.len() {
            let g = &self.model.grants[index];
            if g.role != role || !g.active(now) {
                continue;
            }
            let (spot, ends) = (g.spot, g.ends);
            let added: Vec<(Permission, Holding)> = after
                .iter()
                .filter(|p| !before.contains(*p))
                .map(|p| {
                    (
                        p,
                        Holding::of_expiry(ends).min(self.model.chain_allows(by, p, spot, now)),
                    )
                })
                .collect();
            self.model.grants[index].allowed.extend(added);
        }
    }

    /// Mostly someone who manages access somewhere now, so that chains grow; the national
    /// administrator for good less often than the others, whose holds are shorter.
    fn pick_actor(&mut self) -> Actor {
        let managers: Vec<usize> = (0..self.people.len())
            .filter(|p| {
                SPOTS.iter().any(|s| {
                    self.model
                        .held(Actor::Person(*p), Permission::Grant, *s, self.now)
                        .is_held()
                })
            })
            .flat_map(|p| if p == 0 { vec![p] } else { vec![p, p] })
            .collect();
        match self.rng.random_range(0..20) {
            0 => Actor::Root,
            1..14 if !managers.is_empty() => {
                Actor::Person(managers[self.rng.random_range(0..managers.len())])
            }
            _ => Actor::Person(self.rng.random_range(0..self.people.len())),
        }
    }

    /// Mostly someone who manages access on the whole tenant now: who may reshape roles.
    fn pick_tenant_manager(&mut self) -> Actor {
        let managers: Vec<usize> = (0..self.people.len())
            .filter(|p| {
                self.model
                    .held(Actor::Person(*p), Permission::Grant, Spot::Tenant, self.now)
                    .is_held()
            })
            .flat_map(|p| if p == 0 { vec![p] } else { vec![p, p] })
            .collect();
        if !managers.is_empty() && self.rng.random_bool(0.7) {
            Actor::Person(managers[self.rng.random_range(0..managers.len())])
        } else {
            self.pick_actor()
        }
    }

    /// Mostly somewhere the actor manages access, so that attempts get past the area check.
    fn pick_spot(&mut self, by: Actor) -> Spot {
        let theirs: Vec<Spot> = SPOTS
            .into_iter()
            .filter(|s| {
                self.model
                    .held(by, Permission::Grant, *s, self.now)
                    .is_held()
            })
            .collect();
        if !theirs.is_empty() && self.rng.random_bool(0.7) {
            theirs[self.rng.random_range(0..theirs.len())]
        } else {
            SPOTS[self.rng.random_range(0..SPOTS.len())]
        }
    }

    fn pick_role(&mut self) -> RoleKey {
        let mut keys: Vec<&RoleKey> = self.model.roles.keys().collect();
        keys.sort();
        keys[self.rng.random_range(0..keys.len())].clone()
    }

    fn pick_permissions(&mut self) -> PermissionSet {
        loop {
            let set = PermissionSet::new(
                Permission::ALL
                    .into_iter()
                    .filter(|_| self.rng.random_bool(0.3)),
            );
            if !set.is_empty() {
                return set;
            }
        }
    }

    /// An end: none, a random instant, or the end of the day the actor's own hold ends.
    fn pick_end(&mut self, by: Actor, role: &RoleKey, spot: Spot) -> Option<DateTime<Utc>> {
        let roll = self.rng.random_range(0..10);
        if roll < 4 {
            return None;
        }
        if roll < 6 {
            let needed = self.model.roles[role].iter().chain([Permission::Grant]);
            if let Some(Holding::Until(limit)) =
                needed.map(|p| self.model.held(by, p, spot, self.now)).min()
            {
                return limit
                    .date_naive()
                    .and_hms_opt(23, 59, 59)
                    .map(|t| t.and_utc());
            }
        }
        Some(self.now + Duration::seconds(self.rng.random_range(3_600..40 * 86_400)))
    }

    /// Asks the authorizer about everyone, everywhere, everything at `at`.
    /// Asks the authorizer about `people`, everywhere, everything at `at`.
    async fn check_instant(&mut self, at: DateTime<Utc>, people: &[usize]) {
        self.count("instants".to_owned());
        self.authz.sync().await.unwrap();
        for &person in people {
            let who = self.principal(Actor::Person(person));
            for spot in SPOTS {
                let target = self.target(spot);
                for permission in Permission::ALL {
                    let allowed = self
                        .authz
                        .allowed(&who, self.tenant, &target, permission, at)
                        .await
                        .unwrap();
                    let model = &self.model;
                    let held = model.held(Actor::Person(person), permission, spot, at);
                    assert_eq!(
                        allowed,
                        held.is_held(),
                        "seed {} at {at}: the authorizer and the model disagree on P{person} {permission} at {spot:?}",
                        self.seed
                    );
                    if allowed {
                        let chain = model.chain_allows(Actor::Person(person), permission, spot, at);
                        assert!(
                            chain > Holding::Until(at),
                            "seed {} at {at}: P{person} holds {permission} at {spot:?} beyond what its chain allows ({chain:?})",
                            self.seed
                        );
                        self.count("held".to_owned());
                    }
                }
            }
        }
    }

    /// Moves time to `next`, checking instants on the way. What a person holds changes only at
    /// a step or at the end of one of their grants, and what a chain allows only at a step or
    /// an end: so everyone is checked just after now and at every end in between, and the
    /// holder of an ending grant also a second before it.
    async fn pass_time_until(&mut self, next: DateTime<Utc>) {
        let second = Duration::seconds(1);
        let everyone: Vec<usize> = (0..self.people.len()).collect();
        let mut instants: Vec<(DateTime<Utc>, Vec<usize>)> =
            vec![(self.now + second, everyone.clone())];
        for g in &self.model.grants {
            if let Some(end) = g.ends.filter(|e| *e > self.now + second && *e < next) {
                instants.push((end - second, vec![g.holder]));
                instants.push((end, everyone.clone()));
            }
        }
        instants.sort();
        instants.dedup();
        for (at, people) in instants {
            self.check_instant(at, &people).await;
        }
        self.now = next;
    }
}

fn outcome_name(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done(_) => "done".to_owned(),
        other => format!("{other:?}"),
    }
}

async fn run_case(seed: u64) -> HashMap<String, usize> {
    let mut case = Case::new(seed).await;
    // The chains start at the platform administrator: two national administrators, one of
    // them for a while but managing access for good (the attacker of issue 9), region managers
    // for a while (one also managing access for good), and an M&E officer.
    let lead = RoleKey::parse("lead").unwrap();
    case.model
        .roles
        .insert(lead.clone(), PermissionSet::default());
    case.reshape(Actor::Root, lead, PermissionSet::new([Permission::Grant]))
        .await;
    let week = Duration::days(case.rng.random_range(5..20));
    for (person, role, spot, ends) in [
        (0, "national_admin", Spot::Tenant, None),
        (1, "national_admin", Spot::Tenant, Some(case.now + week)),
        (1, "lead", Spot::Tenant, None),
        (
            2,
            "region_manager",
            Spot::Place(1),
            Some(case.now + week * 2),
        ),
        (3, "me_officer", Spot::Instance, None),
        (
            4,
            "region_manager",
            Spot::Place(4),
            Some(case.now + week * 3),
        ),
        (4, "lead", Spot::Place(4), None),
    ] {
        case.give(
            Actor::Root,
            person,
            RoleKey::parse(role).unwrap(),
            spot,
            ends,
            true,
        )
        .await;
    }
    // Each tenant role is held for good by someone, so that widening it is a temptation.
    let holders = [
        (3, Spot::Instance),
        (2, Spot::Place(2)),
        (4, Spot::Place(5)),
    ];
    for (key, (holder, spot)) in CUSTOM_ROLES.into_iter().zip(holders) {
        let key = RoleKey::parse(key).unwrap();
        let permissions = case.pick_permissions();
        case.model
            .roles
            .insert(key.clone(), PermissionSet::default());
        case.reshape(Actor::Root, key.clone(), permissions).await;
        case.give(Actor::Root, holder, key, spot, None, false).await;
    }
    for _ in 0..STEPS {
        let next = case.now + Duration::seconds(case.rng.random_range(600..2 * 86_400));
        case.pass_time_until(next).await;
        match case.rng.random_range(0..100) {
            0..60 => {
                let by = case.pick_actor();
                let to = case.rng.random_range(0..PEOPLE);
                let role = case.pick_role();
                let spot = case.pick_spot(by);
                let ends = case.pick_end(by, &role, spot);
                let by_email = case.rng.random_bool(0.2);
                case.give(by, to, role, spot, ends, by_email).await;
            }
            60..80 if !case.model.grants.is_empty() => {
                let by = case.pick_actor();
                let open: Vec<usize> = (0..case.model.grants.len())
                    .filter(|i| !case.model.grants[*i].revoked)
                    .collect();
                if let Some(index) = open.get(case.rng.random_range(0..open.len().max(1))) {
                    case.revoke(by, *index).await;
                }
            }
            _ => {
                let by = case.pick_tenant_manager();
                let role =
                    RoleKey::parse(CUSTOM_ROLES[case.rng.random_range(0..CUSTOM_ROLES.len())])
                        .unwrap();
                let after = case.pick_permissions();
                case.reshape(by, role, after).await;
            }
        }
    }
    // And long after, when every end has passed.
    let last = case
        .model
        .grants
        .iter()
        .filter_map(|g| g.ends)
        .max()
        .unwrap_or(case.now);
    case.pass_time_until(last + Duration::days(2)).await;
    case.tally
}

#[tokio::test]
async fn no_chain_of_delegation_gives_anyone_more_than_its_origin_allows() {
    let mut tally: HashMap<String, usize> = HashMap::new();
    for seed in 0..CASES {
        for (what, n) in run_case(0x5EED_0000 + seed).await {
            *tally.entry(what).or_default() += n;
        }
    }
    let mut lines: Vec<_> = tally.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    lines.sort();
    println!(
        "delegation chains, {CASES} cases × {STEPS} steps: {}",
        lines.join(", ")
    );
    // The cases must exercise the rules, not only refuse everything.
    for needed in [
        "give done",
        "give Outlives",
        "give Own",
        "held",
        "reshape done",
        "reshape OutlivesEditor",
        "revoke done",
    ] {
        assert!(
            tally.get(needed).copied().unwrap_or(0) > 0,
            "no '{needed}' in {lines:?}"
        );
    }
}
