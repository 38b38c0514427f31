//! Tenants: list, create, detail (with its CHT instances), edit and delete.
//!
//! **Permission**: the list shows a platform administrator every tenant and anyone else the
//! tenants they have access in; the detail page is for any member (it shows the instances in
//! their scope and the settings they may manage); creating, renaming and deleting tenants is for
//! platform administrators ([`PlatformAdmin`]).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_access::Target;
use portal_domain::Permission;
use portal_domain::{TenantName, TenantSlug};
use portal_store::{access, instances, tenants};
use serde::Deserialize;

use crate::AppState;
use crate::authz::{self, Authorized};
use crate::error::AppResult;
use crate::extract::{CurrentUser, PlatformAdmin};
use crate::views::{self, FieldErrors, Notice, NoticeQuery, TextField, hidden_csrf, text_field};

#[derive(Debug, Default, Deserialize)]
pub struct TenantForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

impl TenantForm {
    fn parse(&self) -> Result<(TenantSlug, TenantName), FieldErrors> {
        let mut errors = FieldErrors::default();
        let slug = errors.check("slug", TenantSlug::parse(&self.slug));
        let name = errors.check("name", TenantName::parse(&self.name));
        match (slug, name) {
            (Some(slug), Some(name)) => Ok((slug, name)),
            _ => Err(errors),
        }
    }
}

fn tenant_fields(form: &TenantForm, errors: &FieldErrors) -> Markup {
    html! {
        div.grid2 {
            (text_field(&TextField { name: "name", label: "Name", kind: "text", value: &form.name, hint: Some("As people know it, e.g. Kenya Ministry of Health"), required: true, autocomplete: "off" }, errors))
            (text_field(&TextField { name: "slug", label: "Short name", kind: "text", value: &form.slug, hint: Some("Letters a-z, digits and hyphens, e.g. ke-moh"), required: true, autocomplete: "off" }, errors))
        }
    }
}

fn list_page(
    current: &CurrentUser,
    list: &[tenants::TenantSummary],
    form: &TenantForm,
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> Markup {
    views::page(
        Some(current),
        "Tenants",
        notice,
        &html! {
            h1 { "Tenants" }
            p.muted { "A tenant is a ministry of health. Each tenant has its own CHT instances." }
            @if list.is_empty() && current.user.is_platform_admin {
                div.card { p { "There are no tenants yet. Create the first one below." } }
            } @else if list.is_empty() {
                div.card { p { "Your account has no access to a tenant yet. Ask your national administrator to give you access." } }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Name" } th { "Short name" } th { "CHT instances" } th.optional { "Created" } } }
                        tbody {
                            @for summary in list {
                                tr {
                                    td { a href={ "/tenants/" (summary.tenant.id) } { (summary.tenant.name) } }
                                    td { (summary.tenant.slug) }
                                    td { (summary.instance_count) }
                                    td.optional { (summary.tenant.created_at.format("%Y-%m-%d")) }
                                }
                            }
                        }
                    }
                }
            }
            @if current.user.is_platform_admin {
                h2 { "New tenant" }
                form.card method="post" action="/tenants" {
                    (hidden_csrf(&current.csrf_token))
                    (tenant_fields(form, errors))
                    div.actions { button type="submit" { "Create tenant" } }
                }
            }
        },
    )
}

/// The tenants `current` may see: all for a platform administrator, else those they have access
/// in (only the provider's tenant for a session begun at a tenant's identity provider).
async fn visible_tenants(
    state: &AppState,
    current: &CurrentUser,
) -> AppResult<Vec<tenants::TenantSummary>> {
    let all = tenants::list(&state.db).await?;
    if current.user.is_platform_admin && current.restricted_tenant().is_none() {
        return Ok(all);
    }
    let mine = access::user_tenants(&state.db, current.user.id, state.clock.now()).await?;
    Ok(all
        .into_iter()
        .filter(|t| mine.contains(&t.tenant.id))
        .filter(|t| {
            current
                .restricted_tenant()
                .is_none_or(|only| only == t.tenant.id)
        })
        .collect())
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let list = visible_tenants(&state, &current).await?;
    Ok(list_page(
        &current,
        &list,
        &TenantForm::default(),
        &FieldErrors::default(),
        query.notice,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    Form(form): Form<TenantForm>,
) -> AppResult<Response> {
    let (slug, name) = match form.parse() {
        Ok(values) => values,
        Err(errors) => {
            let list = tenants::list(&state.db).await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                list_page(&current, &list, &form, &errors, None),
            )
                .into_response());
        }
    };
    match tenants::create(&state.db, &current.audit(&state), &slug, &name).await {
        Ok(tenant) => Ok(Redirect::to(&format!(
            "/tenants/{}?notice={}",
            tenant.id,
            Notice::TenantCreated.code()
        ))
        .into_response()),
        Err(portal_store::StoreError::Conflict(message)) => {
            let mut errors = FieldErrors::default();
            errors.add("slug", message);
            let list = tenants::list(&state.db).await?;
            Ok((
                StatusCode::CONFLICT,
                list_page(&current, &list, &form, &errors, None),
            )
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// What the detail page shows: the instances in the person's scope, and which settings they may
/// manage.
struct TenantView {
    instances: Vec<instances::Instance>,
    platform_admin: bool,
    manage_instances: bool,
    manage_config: bool,
    grant_roles: bool,
}

async fn tenant_view(state: &AppState, authorized: &Authorized) -> AppResult<TenantView> {
    let mut visible = Vec::new();
    for instance in instances::list_for_tenant(&state.db, authorized.tenant.id).await? {
        if !authz::place_filter(state, authorized, instance.id, None)
            .await?
            .is_nothing()
        {
            visible.push(instance);
        }
    }
    let held = authorized.held_at(state, &Target::Tenant).await?;
    Ok(TenantView {
        instances: visible,
        platform_admin: authorized.principal.platform_admin,
        manage_instances: held.contains(Permission::ManageInstances),
        manage_config: held.contains(Permission::ManageConfig),
        grant_roles: held.contains(Permission::Grant),
    })
}

fn detail_page(
    current: &CurrentUser,
    tenant: &tenants::Tenant,
    view: &TenantView,
    form: &TenantForm,
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> Markup {
    views::page(
        Some(current),
        &tenant.name,
        notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " (tenant.name) }
            h1 { (tenant.name) }
            nav.actions aria-label="Tenant" {
                a.button.secondary href={ "/tenants/" (tenant.id) "/access" } { "Access" }
                @if view.grant_roles { a.button.secondary href={ "/tenants/" (tenant.id) "/roles" } { "Roles" } }
                @if view.manage_config { a.button.secondary href={ "/tenants/" (tenant.id) "/config" } { "Deployment configuration" } }
                @if view.manage_config { a.button.secondary href={ "/tenants/" (tenant.id) "/sign-in" } { "Sign-in settings" } }
            }
            h2 { "CHT instances" }
            @if view.instances.is_empty() {
                div.card { p { "No CHT instances here yet." } }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Name" } th { "Address" } th { "Places" } th { "Staging" } } }
                        tbody {
                            @for instance in &view.instances {
                                tr {
                                    td { a href={ "/tenants/" (tenant.id) "/instances/" (instance.id) } { (instance.name) } }
                                    td { (instance.base_url) }
                                    td { a href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/places" } { "Browse" } }
                                    td { a href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/staging" } { "Stage users" } }
                                }
                            }
                        }
                    }
                }
            }
            @if view.manage_instances {
                div.actions { a.button href={ "/tenants/" (tenant.id) "/instances/new" } { "Add CHT instance" } }
            }
            @if view.platform_admin {
                h2 { "Tenant details" }
                form.card method="post" action={ "/tenants/" (tenant.id) } {
                    (hidden_csrf(&current.csrf_token))
                    (tenant_fields(form, errors))
                    div.actions { button type="submit" { "Save tenant" } }
                }
                h2 { "Delete tenant" }
                form.card method="post" action={ "/tenants/" (tenant.id) "/delete" } hx-confirm={ "Delete the tenant " (tenant.name) "? This cannot be undone." } {
                    (hidden_csrf(&current.csrf_token))
                    p.muted { "A tenant can be deleted once it has no CHT instances. Its audit trail is kept." }
                    button.danger type="submit" { "Delete tenant" }
                }
            }
        },
    )
}

async fn render_detail(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    form: Option<TenantForm>,
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> AppResult<Markup> {
    let tenant = &authorized.tenant;
    let view = tenant_view(state, authorized).await?;
    let form = form.unwrap_or_else(|| TenantForm {
        slug: tenant.slug.clone(),
        name: tenant.name.clone(),
    });
    Ok(detail_page(current, tenant, &view, &form, errors, notice))
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    render_detail(
        &state,
        &current,
        &authorized,
        None,
        &FieldErrors::default(),
        query.notice,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    authorized: Authorized,
    Form(form): Form<TenantForm>,
) -> AppResult<Response> {
    let id = authorized.tenant.id;
    let (slug, name) = match form.parse() {
        Ok(values) => values,
        Err(errors) => {
            let page =
                render_detail(&state, &current, &authorized, Some(form), &errors, None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    match tenants::update(&state.db, &current.audit(&state), id, &slug, &name).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/tenants/{id}?notice={}",
            Notice::TenantUpdated.code()
        ))
        .into_response()),
        Err(portal_store::StoreError::Conflict(message)) => {
            let mut errors = FieldErrors::default();
            errors.add("slug", message);
            let page =
                render_detail(&state, &current, &authorized, Some(form), &errors, None).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    authorized: Authorized,
) -> AppResult<Response> {
    let id = authorized.tenant.id;
    tenants::delete(&state.db, &current.audit(&state), id).await?;
    Ok(Redirect::to(&format!("/tenants?notice={}", Notice::TenantDeleted.code())).into_response())
}
