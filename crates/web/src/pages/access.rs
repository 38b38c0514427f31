//! Access: who may do what, where, in a tenant. A programme lead finds a person (or invites one
//! by email), picks a role and a place, optionally an end date, and gives access; or revokes it.
//!
//! **Permission**: the page is open to any member, but everything on it is limited by the
//! person's own `grant` permission: they see and revoke only grants inside their own scope, and
//! can give only roles whose permissions they hold there, on scopes inside their own, for no
//! longer than they hold them, and never to or from themselves. Every identifier in the form
//! (person, role, instance, place) is checked on the server. The rules themselves live in
//! `portal_access::delegation`; this page parses the form and shows what they decide.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_access::{DelegationError, Target, delegation};
use portal_domain::{InstanceId, Permission, RoleKey};
use portal_store::access::{self, GrantListing, GrantScope, Role};
use portal_store::instances::{self, Instance};
use portal_store::places::{self, Place};
use serde::Deserialize;

use crate::AppState;
use crate::authz::{self, Authorized};
use crate::denials;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, hidden_csrf};

mod cht_grantee;
mod giving;
pub(crate) mod links;

pub use giving::grant;
pub use links::{WayIn, new_link};

const PEOPLE_LIMIT: usize = 20;

/// The page's GET parameters: the notice, the instance and place search, the person search.
#[derive(Debug, Default, Deserialize)]
pub struct AccessQuery {
    notice: Option<Notice>,
    #[serde(default)]
    instance: String,
    #[serde(default)]
    place_q: String,
    #[serde(default)]
    person_q: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    /// `tenant`, `instance:<id>` or `place:<instance id>:<place id>`.
    #[serde(default)]
    scope: String,
    /// `YYYY-MM-DD`; access ends at the end of that day (UTC).
    #[serde(default)]
    expires_on: String,
    /// Or a CHT username on one of the tenant's instances (`cht_grantee`).
    #[serde(default)]
    cht_username: String,
    #[serde(default)]
    cht_instance: String,
}

async fn target_of(state: &AppState, scope: &GrantScope) -> AppResult<Target> {
    Ok(match scope {
        GrantScope::Tenant => Target::Tenant,
        GrantScope::Instance(id) => Target::Instance(*id),
        GrantScope::Place {
            instance_id,
            place_id,
            ..
        } => {
            // A place no longer in the cache is judged as directly under the instance root:
            // only people with the whole instance (or tenant) can see or revoke it.
            let lineage = places::get(&state.db, *instance_id, place_id)
                .await?
                .map_or_else(|| "/".to_owned(), |p| p.lineage);
            Target::Place {
                instance_id: *instance_id,
                place_id: place_id.clone(),
                lineage,
            }
        }
    })
}

/// Whether the person holds `grant` on the tenant or anywhere in one of its instances.
async fn manages_access_somewhere(state: &AppState, authorized: &Authorized) -> AppResult<bool> {
    let tenant = authorized.tenant.id;
    if authorized
        .allows(state, &Target::Tenant, Permission::Grant)
        .await?
    {
        return Ok(true);
    }
    for instance in instances::list_for_tenant(&state.db, tenant).await? {
        let view =
            authz::place_filter(state, authorized, instance.id, Some(Permission::Grant)).await?;
        if !view.is_nothing() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The tenant's grants inside the area where the person manages access, each with whether they
/// may revoke it.
async fn visible_grants(
    state: &AppState,
    authorized: &Authorized,
    roles: &[Role],
) -> AppResult<Vec<(GrantListing, bool)>> {
    let tenant = &authorized.tenant;
    let mut grants = Vec::new();
    for listing in access::tenant_grants(&state.db, tenant.id, false).await? {
        let target = target_of(state, &listing.grant.scope).await?;
        let visible = authorized.allows(state, &target, Permission::Grant).await?;
        if !visible {
            continue;
        }
        let role = role_named(roles, &listing.grant.role_key);
        let held = authorized.held_at(state, &target).await?;
        let revocable =
            delegation::may_revoke(&authorized.principal, listing.user.id, role.as_ref(), &held)
                .is_ok();
        grants.push((listing, revocable));
    }
    Ok(grants)
}

struct PageData {
    roles: Vec<Role>,
    /// Instances where the person manages access somewhere.
    instances: Vec<Instance>,
    /// Grants the person may see, each with whether they may revoke it.
    grants: Vec<(GrantListing, bool)>,
    can_grant_tenant: bool,
    places: Vec<Place>,
    people: Vec<portal_store::users::User>,
    /// How each person listed gets in.
    ways_in: std::collections::HashMap<portal_domain::UserId, WayIn>,
    /// Instances of the tenant that allow sign-in with a CHT account.
    cht_sign_in: std::collections::BTreeSet<InstanceId>,
}

async fn load(
    state: &AppState,
    authorized: &Authorized,
    query: &AccessQuery,
) -> AppResult<PageData> {
    let tenant = &authorized.tenant;
    let roles = access::roles(&state.db, tenant.id).await?;
    let mut grant_instances = Vec::new();
    for instance in instances::list_for_tenant(&state.db, tenant.id).await? {
        let view =
            authz::place_filter(state, authorized, instance.id, Some(Permission::Grant)).await?;
        if !view.is_nothing() {
            grant_instances.push(instance);
        }
    }
    let can_grant_tenant = authorized
        .allows(state, &Target::Tenant, Permission::Grant)
        .await?;
    let grants = visible_grants(state, authorized, &roles).await?;
    let chosen = grant_instances
        .iter()
        .find(|i| i.id.to_string() == query.instance)
        .cloned();
    let places = match &chosen {
        Some(instance) if query.place_q.trim().chars().count() >= 2 => {
            let filter =
                authz::place_filter(state, authorized, instance.id, Some(Permission::Grant))
                    .await?;
            places::search(&state.db, instance.id, &query.place_q, &filter, 25).await?
        }
        _ => Vec::new(),
    };
    let people = members_matching(&grants, &query.person_q, authorized);
    let mut listed: Vec<_> = grants.iter().map(|(l, _)| l.user.id).collect();
    listed.sort();
    listed.dedup();
    let ways_in = links::ways_in(state, tenant.id, &listed).await?;
    Ok(PageData {
        cht_sign_in: cht_grantee::allowed(state, tenant.id).await?,
        ways_in,
        roles,
        instances: grant_instances,
        grants,
        can_grant_tenant,
        places,
        people,
    })
}

fn role_named(roles: &[Role], key: &RoleKey) -> Option<Role> {
    roles.iter().find(|r| &r.key == key).cloned()
}

/// People who hold access the person can see (inside the area where they manage access), by
/// name or email, but not the person themselves (nobody gives themselves access). Search never
/// reaches other people's staff; newcomers are invited by email.
fn members_matching(
    visible: &[(GrantListing, bool)],
    query: &str,
    authorized: &Authorized,
) -> Vec<portal_store::users::User> {
    let query = portal_domain::place_path::name_key(query);
    if query.chars().count() < 2 {
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    visible
        .iter()
        .map(|(listing, _)| &listing.user)
        .filter(|user| {
            user.id != authorized.principal.user_id
                && portal_domain::place_path::name_key(&format!(
                    "{} {}",
                    user.display_name, user.email
                ))
                .contains(&query)
                && seen.insert(user.id)
        })
        .take(PEOPLE_LIMIT)
        .cloned()
        .collect()
}

fn scope_label(scope: &GrantScope, instances: &[Instance]) -> String {
    let instance_name = |id: &InstanceId| {
        instances
            .iter()
            .find(|i| &i.id == id)
            .map_or_else(|| "an instance".to_owned(), |i| i.name.clone())
    };
    match scope {
        GrantScope::Tenant => "The whole tenant".to_owned(),
        GrantScope::Instance(id) => format!("All of {}", instance_name(id)),
        GrantScope::Place {
            instance_id,
            place_name,
            ..
        } => format!("{place_name} and below, in {}", instance_name(instance_id)),
    }
}

fn render(
    current: &CurrentUser,
    authorized: &Authorized,
    data: &PageData,
    query: &AccessQuery,
    form: &GrantForm,
    errors: &FieldErrors,
    all_instances: &[Instance],
) -> Markup {
    let tenant = &authorized.tenant;
    let base = format!("/tenants/{}/access", tenant.id);
    let can_grant = data.can_grant_tenant || !data.instances.is_empty();
    views::page(
        Some(current),
        &format!("Access to {}", tenant.name),
        query.notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / Access" }
            h1 { "Who has access" }
            @if data.grants.is_empty() {
                div.card { p { "Nobody has access in your area yet." } }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "Person" } th { "Way in" } th { "Role" } th { "Where" } th { "Until" } th { span.muted { "Action" } } } }
                    tbody { @for (index, (listing, revocable)) in data.grants.iter().enumerate() {
                        @let g = &listing.grant;
                        @let first_row_of_person = data.grants[..index].iter().all(|(l, _)| l.user.id != listing.user.id);
                        tr {
                            td { (listing.user.display_name) br; span.muted { (cht_grantee::shown_address(&listing.user.email)) } }
                            td {
                                @let way = data.ways_in.get(&listing.user.id).cloned().unwrap_or(WayIn::Nothing);
                                @if way == WayIn::Nothing { strong { (way.describe()) } } @else { (way.describe()) }
                                @if *revocable && first_row_of_person {
                                    form method="post" action={ (base) "/people/" (listing.user.id) "/link" } {
                                        (hidden_csrf(&current.csrf_token))
                                        button.secondary type="submit" { "New sign-in link" }
                                    }
                                }
                            }
                            td { (role_named(&data.roles, &g.role_key).map_or_else(|| g.role_key.to_string(), |r| r.name)) }
                            td { (scope_label(&g.scope, all_instances)) }
                            td { (g.expires_at.map_or_else(|| "No end date".to_owned(), |t| t.format("%Y-%m-%d").to_string())) }
                            td { @if *revocable {
                                form method="post" action={ (base) "/" (g.id) "/revoke" }
                                    hx-confirm={ "Revoke this access for " (listing.user.display_name) "? It ends at once." } {
                                    (hidden_csrf(&current.csrf_token))
                                    button.danger type="submit" { "Revoke" }
                                }
                            } }
                        }
                    } }
                } }
            }
            @if can_grant {
                h2 { "Give access" }
                @if let Some(message) = errors.get("form") { div.notice.error role="alert" { (message) } }
                div.card {
                    h3 { "1. Find the place (skip for a whole instance or the whole tenant)" }
                    form.search method="get" action=(base) {
                        div.grid2 {
                            div.field {
                                label for="instance" { "CHT instance" }
                                select #instance name="instance" {
                                    option value="" { "Choose…" }
                                    @for instance in &data.instances {
                                        option value=(instance.id) selected[instance.id.to_string() == query.instance] { (instance.name) }
                                    }
                                }
                            }
                            div.field {
                                label for="place_q" { "Place name" }
                                input #place_q type="search" name="place_q" value=(query.place_q) placeholder="e.g. Westlands";
                            }
                        }
                        input type="hidden" name="person_q" value=(query.person_q);
                        div.actions { button.secondary type="submit" { "Search places" } }
                    }
                    h3 { "2. Find the person (or invite someone new below)" }
                    form.search method="get" action=(base) {
                        div.field {
                            label for="person_q" { "Name or email of someone who already has access here" }
                            input #person_q type="search" name="person_q" value=(query.person_q);
                        }
                        input type="hidden" name="instance" value=(query.instance);
                        input type="hidden" name="place_q" value=(query.place_q);
                        div.actions { button.secondary type="submit" { "Search people" } }
                    }
                }
                form.card method="post" action=(base) {
                    (hidden_csrf(&current.csrf_token))
                    h3 { "3. Choose and confirm" }
                    fieldset {
                        legend { "Person" }
                        @for person in &data.people {
                            label { input type="radio" name="user_id" value=(person.id) checked[person.id.to_string() == form.user_id]; " " (person.display_name) " " span.muted { (cht_grantee::shown_address(&person.email)) } }
                        }
                        @if data.people.is_empty() && !query.person_q.is_empty() { p.muted { "Nobody with access here matches. Invite them by email instead." } }
                        div.grid2 {
                            div.field.invalid[errors.get("email").is_some()] {
                                label for="email" { "Or invite by email" }
                                input #email type="email" name="email" value=(form.email) autocomplete="off";
                                @if let Some(e) = errors.get("email") { div.error { (e) } }
                                div.hint { "Without a portal password or an identity provider for this tenant, they get a single-use link to choose a password: e-mailed to them, or shown to you when the portal sends no e-mail." }
                            }
                            div.field {
                                label for="display_name" { "Their name" }
                                input #display_name type="text" name="display_name" value=(form.display_name) autocomplete="off";
                            }
                        }
                        (cht_grantee::fields(&form.cht_instance, &form.cht_username, errors, all_instances, &data.cht_sign_in))
                    }
                    div.field.invalid[errors.get("role").is_some()] {
                        label for="role" { "Role" }
                        select #role name="role" required {
                            option value="" { "Choose…" }
                            @for role in &data.roles {
                                option value=(role.key) selected[role.key.as_str() == form.role] { (role.name) }
                            }
                        }
                        @if let Some(e) = errors.get("role") { div.error { (e) } }
                        div.hint { @for role in &data.roles { @if let Some(b) = role.key.as_builtin() { strong { (role.name) } ": " (b.summary()) ". " } } }
                    }
                    fieldset.invalid[errors.get("scope").is_some()] {
                        legend { "Where" }
                        @if data.can_grant_tenant {
                            label { input type="radio" name="scope" value="tenant" checked[form.scope == "tenant"]; " The whole tenant" }
                        }
                        @for instance in &data.instances {
                            label { input type="radio" name="scope" value={ "instance:" (instance.id) } checked[form.scope == format!("instance:{}", instance.id)]; " All of " (instance.name) }
                        }
                        @for place in &data.places {
                            label { input type="radio" name="scope" value={ "place:" (query.instance) ":" (place.id) } checked[form.scope == format!("place:{}:{}", query.instance, place.id)]; " " (place.name) " and everything below it " span.muted { "(" (place.contact_type) ")" } }
                        }
                        @if let Some(e) = errors.get("scope") { div.error { (e) } }
                    }
                    div.field.invalid[errors.get("expires_on").is_some()] {
                        label for="expires_on" { "Ends on (optional)" }
                        input #expires_on type="date" name="expires_on" value=(form.expires_on);
                        @if let Some(e) = errors.get("expires_on") { div.error { (e) } }
                        div.hint { "Access stops at the end of this day (UTC). Leave empty for no end date." }
                    }
                    div.actions { button type="submit" { "Give access" } }
                }
            }
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<AccessQuery>,
) -> AppResult<Markup> {
    let data = load(&state, &authorized, &query).await?;
    let all = instances::list_for_tenant(&state.db, authorized.tenant.id).await?;
    Ok(render(
        &current,
        &authorized,
        &data,
        &query,
        &GrantForm::default(),
        &FieldErrors::default(),
        &all,
    ))
}

/// An HTMX fragment of matching members, for the person search.
pub async fn people(
    State(state): State<AppState>,
    authorized: Authorized,
    Query(query): Query<AccessQuery>,
) -> AppResult<Markup> {
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    let visible = visible_grants(&state, &authorized, &roles).await?;
    if visible.is_empty() && !manages_access_somewhere(&state, &authorized).await? {
        return Err(AppError::Forbidden(
            "look up people: you do not manage access anywhere here",
        ));
    }
    let people = members_matching(&visible, &query.person_q, &authorized);
    Ok(html! {
        ul.results { @for person in &people {
            li { label { input type="radio" name="user_id" value=(person.id); " " (person.display_name) " " span.muted { (cht_grantee::shown_address(&person.email)) } } }
        } }
    })
}

pub async fn revoke(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Path((_, grant_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let id: uuid::Uuid = grant_id.parse().map_err(|_| AppError::NotFound("grant"))?;
    let revoked = delegation::revoke_access(
        &state.db,
        &current.audit(&state),
        &authorized.principal,
        authorized.tenant.id,
        id,
    )
    .await;
    match revoked {
        Ok(_) => {}
        Err(DelegationError::Store(error)) => return Err(error.into()),
        Err(refusal) => {
            let mut response =
                views::error_page(StatusCode::FORBIDDEN, "Not allowed", &refusal.to_string());
            response.extensions_mut().insert(denials::Refused);
            return Ok(response);
        }
    }
    Ok(Redirect::to(&format!(
        "/tenants/{}/access?notice={}",
        authorized.tenant.id,
        Notice::AccessRevoked.code()
    ))
    .into_response())
}
