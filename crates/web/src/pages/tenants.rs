//! Tenants: list, create, detail (with its CHT instances), edit and delete.
//!
//! **Permission**: platform administrator (every handler takes [`PlatformAdmin`]).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_domain::{TenantId, TenantName, TenantSlug};
use portal_store::{instances, tenants};
use serde::Deserialize;

use crate::AppState;
use crate::error::{AppError, AppResult};
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

pub fn parse_tenant_id(raw: &str) -> AppResult<TenantId> {
    raw.parse().map_err(|_| AppError::NotFound("tenant"))
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
            @if list.is_empty() {
                div.card { p { "There are no tenants yet. Create the first one below." } }
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
            h2 { "New tenant" }
            form.card method="post" action="/tenants" {
                (hidden_csrf(&current.csrf_token))
                (tenant_fields(form, errors))
                div.actions { button type="submit" { "Create tenant" } }
            }
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let list = tenants::list(&state.db).await?;
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

fn detail_page(
    current: &CurrentUser,
    tenant: &tenants::Tenant,
    list: &[instances::Instance],
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
            h2 { "CHT instances" }
            @if list.is_empty() {
                div.card { p { "No CHT instances yet. Add one to start managing its users." } }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Name" } th { "Address" } th.optional { "Service account" } } }
                        tbody {
                            @for instance in list {
                                tr {
                                    td { a href={ "/tenants/" (tenant.id) "/instances/" (instance.id) } { (instance.name) } }
                                    td { (instance.base_url) }
                                    td.optional { (instance.service_username) }
                                }
                            }
                        }
                    }
                }
            }
            div.actions { a.button href={ "/tenants/" (tenant.id) "/instances/new" } { "Add CHT instance" } }
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
        },
    )
}

async fn render_detail(
    state: &AppState,
    current: &CurrentUser,
    id: TenantId,
    form: Option<TenantForm>,
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> AppResult<Markup> {
    let tenant = tenants::get(&state.db, id).await?;
    let list = instances::list_for_tenant(&state.db, id).await?;
    let form = form.unwrap_or_else(|| TenantForm {
        slug: tenant.slug.clone(),
        name: tenant.name.clone(),
    });
    Ok(detail_page(current, &tenant, &list, &form, errors, notice))
}

pub async fn show(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let id = parse_tenant_id(&id)?;
    render_detail(
        &state,
        &current,
        id,
        None,
        &FieldErrors::default(),
        query.notice,
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    Path(id): Path<String>,
    Form(form): Form<TenantForm>,
) -> AppResult<Response> {
    let id = parse_tenant_id(&id)?;
    let (slug, name) = match form.parse() {
        Ok(values) => values,
        Err(errors) => {
            let page = render_detail(&state, &current, id, Some(form), &errors, None).await?;
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
            let page = render_detail(&state, &current, id, Some(form), &errors, None).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    PlatformAdmin(current): PlatformAdmin,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_tenant_id(&id)?;
    tenants::delete(&state.db, &current.audit(&state), id).await?;
    Ok(Redirect::to(&format!("/tenants?notice={}", Notice::TenantDeleted.code())).into_response())
}
