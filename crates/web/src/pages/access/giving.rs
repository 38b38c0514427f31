//! Giving access: the form is parsed into a grantee, a role, a scope and an end date, the
//! delegation rules (`portal_access::delegation::give_access`) decide and write, and a refusal
//! goes back on the form by the field it concerns.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use portal_access::{DelegationError, Target, delegation};
use portal_domain::{Email, InstanceId, Permission, RoleKey, UserId};
use portal_store::access::{self, GrantScope, Grantee, NewGrant};
use portal_store::instances;
use portal_store::places;

use maud::html;

use super::{AccessQuery, GrantForm, PageData, links, load, render, role_named, visible_grants};
use crate::AppState;
use crate::authz::Authorized;
use crate::denials;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice};

fn end_of_day(raw: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("'{raw}' is not a date; use the form YYYY-MM-DD, e.g. 2027-06-30"))?;
    let end = date
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("'{raw}' is not a valid date"))?;
    if end <= now {
        return Err(format!("{raw} has already passed; choose a future date"));
    }
    Ok(Some(end))
}

/// Where a grant applies, resolved against the database.
async fn resolve_scope(
    state: &AppState,
    authorized: &Authorized,
    raw: &str,
) -> AppResult<Result<GrantScope, String>> {
    let tenant = &authorized.tenant;
    let instance = |id: &str| {
        let id: Option<InstanceId> = id.parse().ok();
        async move {
            match id {
                Some(id) => match instances::get(&state.db, tenant.id, id).await {
                    Ok(instance) => Ok(Some(instance)),
                    Err(portal_store::StoreError::NotFound(_)) => Ok(None),
                    Err(other) => Err(AppError::from(other)),
                },
                None => Ok(None),
            }
        }
    };
    let resolved = match raw.split_once(':') {
        None if raw == "tenant" => GrantScope::Tenant,
        Some(("instance", id)) => {
            let Some(instance) = instance(id).await? else {
                return Ok(Err("That CHT instance is not in this tenant.".to_owned()));
            };
            GrantScope::Instance(instance.id)
        }
        Some(("place", rest)) => {
            let Some((instance_id, place_id)) = rest.split_once(':') else {
                return Ok(Err("Choose a place from the search results.".to_owned()));
            };
            let Some(instance) = instance(instance_id).await? else {
                return Ok(Err("That CHT instance is not in this tenant.".to_owned()));
            };
            // A place the cache lacks goes on to the delegation rules, which answer it as they
            // answer a place outside the grantor's area unless they may see the whole instance.
            let place_name = places::get(&state.db, instance.id, place_id)
                .await?
                .map_or_else(|| place_id.to_owned(), |place| place.name);
            GrantScope::Place {
                instance_id: instance.id,
                place_id: place_id.to_owned(),
                place_name,
            }
        }
        _ => return Ok(Err("Choose where the access applies.".to_owned())),
    };
    Ok(Ok(resolved))
}

pub async fn grant(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Form(mut form): Form<GrantForm>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let mut errors = FieldErrors::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let roles = access::roles(&state.db, authorized.tenant.id).await?;

    let grantee = if let Ok(id) = form.user_id.parse::<UserId>() {
        // Only people the grantor can see can be picked; anyone else is invited by email.
        let visible = visible_grants(&state, &authorized, &roles).await?;
        visible
            .iter()
            .any(|(l, _)| l.user.id == id)
            .then_some(Grantee::Existing(id))
            .or_else(|| {
                errors.add(
                    "email",
                    "Pick a person from the search results, or invite them by email.",
                );
                None
            })
    } else if !form.cht_username.trim().is_empty() {
        if form.email.trim().is_empty() {
            match super::cht_grantee::parse(
                &state,
                authorized.tenant.id,
                &form.cht_instance,
                &form.cht_username,
                &form.display_name,
            )
            .await?
            {
                Ok(grantee) => Some(grantee),
                Err(message) => {
                    errors.add("cht_username", message);
                    None
                }
            }
        } else {
            errors.add(
                "cht_username",
                "Give either an email or a CHT username, not both: clear one of them.",
            );
            None
        }
    } else if form.email.trim().is_empty() {
        errors.add(
            "email",
            "Pick a person from the search results, or enter an email to invite.",
        );
        None
    } else {
        match Email::parse(&form.email) {
            Ok(email) => {
                let name = form.display_name.trim();
                Some(Grantee::Invite {
                    display_name: if name.is_empty() {
                        email.as_str().to_owned()
                    } else {
                        name.chars().take(120).collect()
                    },
                    email,
                })
            }
            Err(e) => {
                errors.add("email", format!("{} {}", e.field, e.reason));
                None
            }
        }
    };
    let role = match RoleKey::parse(&form.role)
        .ok()
        .and_then(|k| role_named(&roles, &k))
    {
        Some(role) => Some(role),
        None => {
            errors.add("role", "Choose one of the roles in the list.");
            None
        }
    };
    let resolved = match resolve_scope(&state, &authorized, &form.scope).await? {
        Ok(resolved) => Some(resolved),
        Err(message) => {
            errors.add("scope", message);
            None
        }
    };
    let expires_at = match end_of_day(&form.expires_on, now) {
        Ok(at) => Some(at),
        Err(message) => {
            errors.add("expires_on", message);
            None
        }
    };
    if let (true, Some(grantee), Some(role), Some(scope), Some(expires_at)) =
        (errors.is_empty(), grantee, role, resolved, expires_at)
    {
        let given = delegation::give_access(
            &state.db,
            &current.audit(&state),
            &authorized.principal,
            grantee,
            NewGrant {
                tenant_id: authorized.tenant.id,
                role_key: role.key,
                scope,
                expires_at,
            },
        )
        .await;
        match given {
            Ok((_, grantee)) => {
                return given_result(&state, &current, &authorized, &headers, &grantee).await;
            }
            Err(refusal) => status = show_refusal(refusal, &mut form, &mut errors)?,
        }
    }
    let query = AccessQuery {
        instance: form
            .scope
            .strip_prefix("place:")
            .and_then(|rest| rest.split_once(':'))
            .map(|(i, _)| i.to_owned())
            .unwrap_or_default(),
        ..AccessQuery::default()
    };
    let mut data = load(&state, &authorized, &query).await?;
    keep_picks(&state, &authorized, &form, &mut data).await?;
    let all = instances::list_for_tenant(&state.db, authorized.tenant.id).await?;
    let mut response = (
        status,
        render(&current, &authorized, &data, &query, &form, &errors, &all),
    )
        .into_response();
    if status == StatusCode::FORBIDDEN {
        response.extensions_mut().insert(denials::Refused);
    }
    Ok(response)
}

/// What the person who gave access sees: the access page with "Access given" when the grantee
/// has a way in (a password, the tenant's provider); otherwise an invitation link is issued and
/// the page says how it reaches them (e-mailed, or shown here once). Never "Access given" alone
/// to someone who cannot sign in.
async fn given_result(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    headers: &HeaderMap,
    grantee: &portal_store::users::User,
) -> AppResult<Response> {
    let tenant = &authorized.tenant;
    let ways = links::ways_in(state, tenant.id, &[grantee.id]).await?;
    if matches!(
        ways.get(&grantee.id),
        Some(links::WayIn::Password | links::WayIn::Provider(_) | links::WayIn::ChtAccount(_))
    ) {
        return Ok(Redirect::to(&format!(
            "/tenants/{}/access?notice={}",
            tenant.id,
            Notice::AccessGranted.code()
        ))
        .into_response());
    }
    let may_show = links::may_manage(state, authorized, grantee).await?.is_ok();
    let (delivery, expires_at) =
        links::issue_for(state, current, headers, tenant.id, grantee, may_show).await?;
    Ok(views::page(
        Some(current),
        "Access given",
        None,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / " a href={ "/tenants/" (tenant.id) "/access" } { "Access" } }
            div.card {
                h1 { "Access given to " (grantee.display_name) }
                p { "They have no portal password yet and this tenant has no identity provider, so they sign in through a link where they choose their password." }
                (links::delivery_markup(grantee, &delivery, expires_at))
                p { a href={ "/tenants/" (tenant.id) "/access" } { "Back to access" } }
            }
        },
    )
    .into_response())
}

/// Puts a refusal of the delegation rules on the form, by the field it concerns; returns the
/// status to answer with. An end date past the grantor's own is replaced by the latest allowed,
/// so one more press gives the access until then.
fn show_refusal(
    refusal: DelegationError,
    form: &mut GrantForm,
    errors: &mut FieldErrors,
) -> AppResult<StatusCode> {
    let refusal = match refusal {
        DelegationError::Store(error) => return Err(error.into()),
        other => other,
    };
    let (field, status) = match &refusal {
        DelegationError::OutlivesGrantor { until, .. } => {
            let day = until.format("%Y-%m-%d").to_string();
            let asked = std::mem::replace(&mut form.expires_on, day);
            let note = if asked.trim().is_empty() {
                "The end date below is now set to that day: press Give access to confirm."
            } else {
                "The end date below is now set to that day: press Give access to confirm, or choose an earlier one."
            };
            errors.add("expires_on", format!("{refusal} {note}"));
            return Ok(StatusCode::UNPROCESSABLE_ENTITY);
        }
        DelegationError::EndPassed => ("expires_on", StatusCode::UNPROCESSABLE_ENTITY),
        DelegationError::UnknownRole(_) => ("role", StatusCode::UNPROCESSABLE_ENTITY),
        DelegationError::ScopeUnavailable(_) => ("scope", StatusCode::UNPROCESSABLE_ENTITY),
        _ => ("form", StatusCode::FORBIDDEN),
    };
    errors.add(field, refusal.to_string());
    Ok(status)
}

/// Keeps the person and the place the form picked on the re-rendered form, so fixing one
/// field does not mean searching again. Only what the person may pick is shown again.
async fn keep_picks(
    state: &AppState,
    authorized: &Authorized,
    form: &GrantForm,
    data: &mut PageData,
) -> AppResult<()> {
    if let Ok(id) = form.user_id.parse::<UserId>()
        && id != authorized.principal.user_id
        && !data.people.iter().any(|p| p.id == id)
        && let Some((listing, _)) = data.grants.iter().find(|(l, _)| l.user.id == id)
    {
        data.people.push(listing.user.clone());
    }
    let Some((instance, place_id)) = form
        .scope
        .strip_prefix("place:")
        .and_then(|rest| rest.split_once(':'))
    else {
        return Ok(());
    };
    let Some(instance) = data.instances.iter().find(|i| i.id.to_string() == instance) else {
        return Ok(());
    };
    if data.places.iter().any(|p| p.id == place_id) {
        return Ok(());
    }
    if let Some(place) = places::get(&state.db, instance.id, place_id).await? {
        let target = Target::Place {
            instance_id: instance.id,
            place_id: place.id.clone(),
            lineage: place.lineage.clone(),
        };
        if authorized.allows(state, &target, Permission::Grant).await? {
            data.places.push(place);
        }
    }
    Ok(())
}
