//! The instance's places as the portal caches them: browse the hierarchy, search it (also as a
//! picker for the access screen and as JSON), and refresh the cache from CHT (the place types the
//! tenant's deployment config uses, `portal_place_sync::plan`).
//!
//! **Permission**: any grant in the instance (on the instance or a place in it); everything
//! listed is filtered to the person's scope. Refreshing needs `stage` somewhere in the instance.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_domain::Permission;
use portal_domain::PlaceScope;
use portal_store::instances::Instance;
use portal_store::places::{self, Place};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::authz::{self, Authorized};
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, Notice, NoticeQuery, hidden_csrf};

/// At most this many places in one list; search narrows further.
const LIST_LIMIT: u64 = 200;
const SEARCH_LIMIT: u64 = 25;

fn base(authorized: &Authorized, instance: &Instance) -> String {
    format!(
        "/tenants/{}/instances/{}",
        authorized.tenant.id, instance.id
    )
}

/// What the person may see of the path's instance.
pub async fn filter(
    state: &AppState,
    authorized: &Authorized,
    instance: &Instance,
) -> AppResult<PlaceScope> {
    authz::place_filter(state, authorized, instance.id, None).await
}

/// Refreshing reads the whole instance from CHT: for people who stage across all of it.
pub async fn can_refresh(
    state: &AppState,
    authorized: &Authorized,
    instance: &Instance,
) -> AppResult<bool> {
    authorized
        .allows(
            state,
            &portal_access::Target::Instance(instance.id),
            Permission::Stage,
        )
        .await
}

fn place_list(base: &str, list: &[Place]) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "No places here." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Type" } } }
                tbody { @for place in list {
                    tr {
                        td { a href={ (base) "/places/" (urlencode(&place.id)) } { (place.name) } }
                        td { code { (place.contact_type) } }
                    }
                } }
            } }
        }
    }
}

fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

fn search_box(base: &str) -> Markup {
    html! {
        form.search method="get" action={ (base) "/places/search" } role="search" {
            label for="place-q" { "Find a place" }
            input #place-q type="search" name="q" autocomplete="off" placeholder="Type part of a name"
                hx-get={ (base) "/places/search" } hx-trigger="input changed delay:250ms, search"
                hx-target="#place-results" hx-swap="innerHTML";
            div #place-results {}
        }
    }
}

pub async fn index(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let instance = authorized.instance()?;
    let filter = filter(&state, &authorized, instance).await?;
    let top = match &filter {
        PlaceScope::Everything => {
            places::children(&state.db, instance.id, None, &filter, LIST_LIMIT).await?
        }
        PlaceScope::Subtrees(roots) => {
            let mut list = Vec::new();
            for id in roots {
                list.extend(places::get(&state.db, instance.id, id).await?);
            }
            list
        }
    };
    let status = places::sync_status(&state.db, instance.id).await?;
    let total = places::count(&state.db, instance.id).await?;
    let base = base(&authorized, instance);
    let refresh = can_refresh(&state, &authorized, instance).await?;
    let gaps = places::gaps(&state.db, instance.id).await?;
    // Which types a refresh reads depends on the config: say it when there is none.
    let without_config = refresh && state.staging.config(authorized.tenant.id).await?.is_none();
    let now = state.clock.now();
    Ok(views::page(
        Some(&current),
        &format!("Places of {}", instance.name),
        query.notice,
        &html! {
            div.breadcrumbs {
                a href="/tenants" { "Tenants" } " / "
                a href={ "/tenants/" (authorized.tenant.id) } { (authorized.tenant.name) } " / "
                a href=(base) { (instance.name) } " / Places"
            }
            h1 { "Places of " (instance.name) }
            (search_box(&base))
            h2 { @if filter == PlaceScope::Everything { "Top of the hierarchy" } @else { "Your areas" } }
            (place_list(&base, &top))
            h2 { "Cache" }
            (gap_notices(&gaps))
            div.card {
                @if status.is_empty() {
                    p { "The portal has not read this instance's places yet." }
                } @else if filter != PlaceScope::Everything {
                    // Instance-wide counts are not for people who see part of it.
                    p { "Places last read from CHT " (views::age(now, status.iter().map(|s| s.refreshed_at).min().unwrap_or(now))) "." }
                } @else {
                    p { (total) " places cached." }
                    div.table-wrap { table {
                        thead { tr { th { "Type" } th { "Places" } th { "Read from CHT" } } }
                        tbody { @for s in &status {
                            tr {
                                td { code { (s.contact_type) } }
                                td { (s.place_count) }
                                td { (views::age(now, s.refreshed_at)) }
                            }
                        } }
                    } }
                }
                @if without_config {
                    p.muted { "The tenant has no deployment config, so a refresh reads every place type of the instance's app_settings. With a config, it reads the types the config uses and their parents." }
                }
                @if refresh {
                    form method="post" action={ (base) "/places/refresh" } {
                        (hidden_csrf(&current.csrf_token))
                        div.actions { button.secondary type="submit" { "Refresh from CHT" } }
                    }
                }
            }
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
) -> AppResult<Markup> {
    let instance = authorized.instance()?;
    let place = authorized
        .place
        .as_ref()
        .ok_or(AppError::NotFound("place"))?;
    let filter = filter(&state, &authorized, instance).await?;
    let children =
        places::children(&state.db, instance.id, Some(&place.id), &filter, LIST_LIMIT).await?;
    let ancestors: Vec<Place> = places::ancestors(&state.db, instance.id, place)
        .await?
        .into_iter()
        .filter(|a| a.is_within(&filter))
        .collect();
    let base = base(&authorized, instance);
    Ok(views::page(
        Some(&current),
        &place.name,
        None,
        &html! {
            div.breadcrumbs {
                a href=(base) { (instance.name) } " / "
                a href={ (base) "/places" } { "Places" }
                @for ancestor in &ancestors {
                    " / " a href={ (base) "/places/" (urlencode(&ancestor.id)) } { (ancestor.name) }
                }
                " / " (place.name)
            }
            h1 { (place.name) }
            div.card { dl.facts {
                dt { "Type" } dd { code { (place.contact_type) } }
                dt { "CHT id" } dd { code { (place.id) } }
            } }
            h2 { "Below " (place.name) }
            (place_list(&base, &children))
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `pick=1`: radio buttons for a form (the access screen's place picker).
    #[serde(default)]
    pick: Option<String>,
}

async fn find(
    state: &AppState,
    authorized: &Authorized,
    query: &str,
) -> AppResult<(Vec<Place>, &'static str)> {
    let instance = authorized.instance()?;
    let query = query.trim();
    if query.chars().count() < 2 {
        return Ok((Vec::new(), "Type at least two letters of the name."));
    }
    let filter = filter(state, authorized, instance).await?;
    let found = places::search(&state.db, instance.id, query, &filter, SEARCH_LIMIT).await?;
    let note = if found.is_empty() {
        "No place in your area matches. Check the spelling, or refresh the cache if the place is new."
    } else {
        ""
    };
    Ok((found, note))
}

/// An HTML fragment for HTMX: matching places within the person's scope.
pub async fn search(
    State(state): State<AppState>,
    authorized: Authorized,
    Query(query): Query<SearchQuery>,
) -> AppResult<Markup> {
    let instance = authorized.instance()?;
    let (found, note) = find(&state, &authorized, &query.q).await?;
    let base = base(&authorized, instance);
    let pick = query.pick.is_some();
    Ok(html! {
        @if !note.is_empty() { p.muted { (note) } }
        ul.results {
            @for place in &found {
                li {
                    @if pick {
                        label {
                            input type="radio" name="place_id" value=(place.id) required;
                            " " (place.name) " " span.muted { "(" (place.contact_type) ")" }
                        }
                    } @else {
                        a href={ (base) "/places/" (urlencode(&place.id)) } { (place.name) }
                        " " span.muted { "(" (place.contact_type) ")" }
                    }
                }
            }
        }
    })
}

/// The same search as JSON, for scripts and integrations.
pub async fn api_search(
    State(state): State<AppState>,
    authorized: Authorized,
    Query(query): Query<SearchQuery>,
) -> AppResult<Response> {
    let (found, note) = find(&state, &authorized, &query.q).await?;
    let places: Vec<_> = found
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "contact_type": p.contact_type,
                "parent_id": p.parent_id,
            })
        })
        .collect();
    Ok(
        Json(json!({ "places": places, "note": (!note.is_empty()).then_some(note) }))
            .into_response(),
    )
}

pub async fn refresh(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
) -> AppResult<Response> {
    let back = format!("{}/places", base(&authorized, authorized.instance()?));
    refresh_cache(&state, &current, &authorized, None, &back).await
}

/// Reads `types` (every place type the tenant's deployment config uses, and their parents,
/// when `None`) from CHT into the cache, then goes back to `back` with a notice. Types the
/// config uses that the instance lacks are said on a result page before going back; a CHT
/// failure leaves the cache as it was and says so.
pub async fn refresh_cache(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    types: Option<Vec<String>>,
    back: &str,
) -> AppResult<Response> {
    let instance = authorized.instance()?;
    let client = state.cht.for_instance(instance).await?;
    let config = state.staging.config(authorized.tenant.id).await?;
    let outcome = portal_place_sync::refresh(
        &state.db,
        &current.audit(state),
        &client,
        authorized.tenant.id,
        instance.id,
        config.as_ref().map(|c| &*c.config),
        types.as_deref(),
    )
    .await;
    match outcome {
        Ok(refreshed) if refreshed.gaps.is_empty() => Ok(Redirect::to(&format!(
            "{back}?notice={}",
            Notice::PlacesRefreshed.code()
        ))
        .into_response()),
        Ok(refreshed) => {
            Ok(refreshed_with_gaps(current, instance, &refreshed, back).into_response())
        }
        Err(portal_place_sync::SyncError::Store(error)) => Err(error.into()),
        Err(portal_place_sync::SyncError::Cht(error)) => Ok(views::error_page(
            StatusCode::BAD_GATEWAY,
            "Could not read the places",
            &format!(
                "CHT did not answer as expected, so the cache was left as it was. Test the instance's connection, then try again. ({error})"
            ),
        )),
    }
}

/// The result of a refresh that found config types missing from the instance: what was read,
/// what was not and why, and the way back.
fn refreshed_with_gaps(
    current: &CurrentUser,
    instance: &Instance,
    refreshed: &portal_place_sync::Refreshed,
    back: &str,
) -> Markup {
    views::page(
        Some(current),
        &format!("Places of {} refreshed, with gaps", instance.name),
        None,
        &html! {
            h1 { "Places of " (instance.name) " refreshed, with gaps" }
            (gap_notices(&refreshed.gaps))
            div.card {
                p { (refreshed.places) " places of " (refreshed.types.len()) " types were read. " (refreshed.source.describe()) }
                div.actions { a.button href=(back) { "Continue" } }
            }
        },
    )
}

/// One warning per config type the instance's app_settings lacked at the last refresh.
pub fn gap_notices(gaps: &[places::TypeGap]) -> Markup {
    html! {
        @for gap in gaps {
            div.notice.warn role="status" { (portal_place_sync::gap_message(gap)) }
        }
    }
}
