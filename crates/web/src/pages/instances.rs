//! CHT instances of a tenant: add, view/edit, delete. The service-account password is write-only
//! here: it is never sent back to the browser, and leaving the field empty keeps the stored one.
//!
//! **Permission**: adding, editing and deleting need `manage_instances` (on the tenant to add,
//! on the instance to change it); the page of an instance is open to anyone with a grant in it,
//! read-only unless they may manage it (see `routes::table`).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_domain::{BaseUrl, InstanceName, ServiceUsername};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use portal_store::places::{self, TypeGap};
use portal_store::{StoreError, tenants};
use serde::Deserialize;

use super::connection;
use crate::AppState;
use crate::authz::Authorized;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, NoticeQuery, TextField, hidden_csrf, text_field};
use axum::extract::Query;
use cht_client::{ChtError, ConnectionReport};

/// No `Debug`: it holds the service password.
#[derive(Default, Deserialize)]
pub struct InstanceForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    service_username: String,
    #[serde(default)]
    service_password: String,
}

impl InstanceForm {
    /// Parses the form; `password_required` is true for a new instance, and `production`
    /// refuses plain `http://` (the service password would cross the network readable).
    fn parse(
        &self,
        password_required: bool,
        production: bool,
    ) -> Result<InstanceFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", InstanceName::parse(&self.name));
        let base_url = errors
            .check("base_url", BaseUrl::parse(&self.base_url))
            .filter(|url| {
                let acceptable = url.is_https() || !production;
                if !acceptable {
                    errors.add(
                        "base_url",
                        "Base URL must start with https:// in production: over http:// the service account password would travel unencrypted",
                    );
                }
                acceptable
            });
        let service_username = errors.check(
            "service_username",
            ServiceUsername::parse(&self.service_username),
        );
        let service_password = if self.service_password.is_empty() && !password_required {
            Some(None)
        } else {
            errors
                .check(
                    "service_password",
                    ServicePassword::parse(&self.service_password),
                )
                .map(Some)
        };
        match (name, base_url, service_username, service_password) {
            (Some(name), Some(base_url), Some(service_username), Some(service_password))
                if errors.is_empty() =>
            {
                Ok(InstanceFields {
                    name,
                    base_url,
                    service_username,
                    service_password,
                })
            }
            _ => Err(errors),
        }
    }
}

struct FormPage<'a> {
    tenant: &'a tenants::Tenant,
    instance: Option<&'a instances::Instance>,
    form: &'a InstanceForm,
    errors: &'a FieldErrors,
    notice: Option<Notice>,
    connection: Option<&'a Result<ConnectionReport, ChtError>>,
    /// Config place types the instance lacked at the last place refresh.
    gaps: &'a [TypeGap],
}

fn form_page(current: &CurrentUser, page: &FormPage<'_>) -> Markup {
    let tenant = page.tenant;
    let (title, action) = match page.instance {
        Some(instance) => (
            instance.name.clone(),
            format!("/tenants/{}/instances/{}", tenant.id, instance.id),
        ),
        None => (
            "Add CHT instance".to_owned(),
            format!("/tenants/{}/instances", tenant.id),
        ),
    };
    let password_hint = if page.instance.is_some() {
        "Stored encrypted and never shown. Leave empty to keep the current password."
    } else {
        "Stored encrypted and never shown again."
    };
    views::page(
        Some(current),
        &title,
        page.notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / " (title) }
            h1 { (title) }
            (super::places::gap_notices(page.gaps))
            @if let Some(instance) = page.instance {
                div.card {
                    dl.facts {
                        dt { "Address" } dd { (instance.base_url) }
                        dt { "Service account" } dd { (instance.service_username) }
                        dt { "Added" } dd { (instance.created_at.format("%Y-%m-%d %H:%M UTC")) }
                        dt { "Last changed" } dd { (instance.updated_at.format("%Y-%m-%d %H:%M UTC")) }
                    }
                }
                div.actions {
                    a.button.secondary href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/places" } { "Browse places" }
                    a.button.secondary href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/staging" } { "Stage users" }
                }
                h2 { "Connection" }
                div.card {
                    (connection::report(page.connection))
                    form method="post" action={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/test" }
                        hx-post={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/test" }
                        hx-target={ "#" (connection::REPORT_ID) } hx-swap="outerHTML" {
                        (hidden_csrf(&current.csrf_token))
                        div.actions { button.secondary type="submit" { "Test connection" } }
                    }
                }
                h2 { "Edit" }
            }
            form.card method="post" action=(action) autocomplete="off" {
                (hidden_csrf(&current.csrf_token))
                div.grid2 {
                    (text_field(&TextField { name: "name", label: "Name", kind: "text", value: &page.form.name, hint: Some("e.g. Nairobi County, or Training"), required: true, autocomplete: "off" }, page.errors))
                    (text_field(&TextField { name: "base_url", label: "Base URL", kind: "url", value: &page.form.base_url, hint: Some("The address of the CHT instance, e.g. https://nairobi.echis.go.ke"), required: true, autocomplete: "off" }, page.errors))
                    (text_field(&TextField { name: "service_username", label: "Service account user name", kind: "text", value: &page.form.service_username, hint: Some("The CHT user the portal signs in as"), required: true, autocomplete: "off" }, page.errors))
                    (text_field(&TextField { name: "service_password", label: "Service account password", kind: "password", value: "", hint: Some(password_hint), required: page.instance.is_none(), autocomplete: "new-password" }, page.errors))
                }
                div.actions {
                    button type="submit" { @if page.instance.is_some() { "Save instance" } @else { "Add instance" } }
                    a.button.secondary href={ "/tenants/" (tenant.id) } { "Cancel" }
                }
            }
            @if let Some(instance) = page.instance {
                h2 { "Delete instance" }
                form.card method="post" action={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/delete" } hx-confirm={ "Delete the CHT instance " (instance.name) " from the portal? Nothing on the CHT server is changed." } {
                    (hidden_csrf(&current.csrf_token))
                    p.muted { "Removes the instance, its stored credentials, its place cache and the access given on it from the portal. The CHT server itself is not touched." }
                    (text_field(&TextField { name: "confirm_name", label: "Type the instance's name to confirm", kind: "text", value: "", hint: None, required: true, autocomplete: "off" }, &FieldErrors::default()))
                    button.danger type="submit" { "Delete instance" }
                }
            }
        },
    )
}

fn conflict_or_error(error: StoreError, errors: &mut FieldErrors) -> Result<(), AppError> {
    match error {
        StoreError::Conflict(message) => {
            errors.add("name", message);
            Ok(())
        }
        StoreError::Refused(message) if message == instances::PASSWORD_NEEDED_FOR_NEW_ADDRESS => {
            errors.add("service_password", message);
            Ok(())
        }
        other => Err(other.into()),
    }
}

pub async fn new(current: CurrentUser, authorized: Authorized) -> AppResult<Markup> {
    let tenant = authorized.tenant;
    Ok(form_page(
        &current,
        &FormPage {
            tenant: &tenant,
            instance: None,
            form: &InstanceForm::default(),
            errors: &FieldErrors::default(),
            notice: None,
            connection: None,
            gaps: &[],
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<InstanceForm>,
) -> AppResult<Response> {
    let tenant = authorized.tenant;
    let mut errors = match form.parse(true, state.settings.production) {
        Ok(fields) => match instances::create(
            &state.db,
            &current.audit(&state),
            &state.master_key,
            tenant.id,
            &fields,
        )
        .await
        {
            Ok(instance) => {
                return Ok(Redirect::to(&format!(
                    "/tenants/{}/instances/{}?notice={}",
                    tenant.id,
                    instance.id,
                    Notice::InstanceCreated.code()
                ))
                .into_response());
            }
            Err(error) => {
                let mut errors = FieldErrors::default();
                conflict_or_error(error, &mut errors)?;
                errors
            }
        },
        Err(errors) => errors,
    };
    if form.service_password.is_empty() {
        errors.add("service_password", "Service account password is required");
    }
    let page = form_page(
        &current,
        &FormPage {
            tenant: &tenant,
            instance: None,
            form: &form,
            errors: &errors,
            notice: None,
            connection: None,
            gaps: &[],
        },
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// The instance's page with its edit form filled from the stored values.
pub fn render_instance_page(
    current: &CurrentUser,
    tenant: &tenants::Tenant,
    instance: &instances::Instance,
    connection: Option<&Result<ConnectionReport, ChtError>>,
    notice: Option<Notice>,
) -> Markup {
    instance_page(current, tenant, instance, connection, notice, &[])
}

fn instance_page(
    current: &CurrentUser,
    tenant: &tenants::Tenant,
    instance: &instances::Instance,
    connection: Option<&Result<ConnectionReport, ChtError>>,
    notice: Option<Notice>,
    gaps: &[TypeGap],
) -> Markup {
    let form = InstanceForm {
        name: instance.name.clone(),
        base_url: instance.base_url.clone(),
        service_username: instance.service_username.clone(),
        service_password: String::new(),
    };
    form_page(
        current,
        &FormPage {
            tenant,
            instance: Some(instance),
            form: &form,
            errors: &FieldErrors::default(),
            notice,
            connection,
            gaps,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let instance = authorized.instance()?;
    let manage = authorized
        .allows(
            &state,
            &portal_access::Target::Instance(instance.id),
            portal_domain::Permission::ManageInstances,
        )
        .await?;
    let gaps = places::gaps(&state.db, instance.id).await?;
    if !manage {
        return Ok(read_only_page(
            &current,
            &authorized.tenant,
            instance,
            query.notice,
            &gaps,
        ));
    }
    Ok(instance_page(
        &current,
        &authorized.tenant,
        instance,
        None,
        query.notice,
        &gaps,
    ))
}

/// The instance as someone who works in it (but does not manage it) sees it.
fn read_only_page(
    current: &CurrentUser,
    tenant: &tenants::Tenant,
    instance: &instances::Instance,
    notice: Option<Notice>,
    gaps: &[TypeGap],
) -> Markup {
    views::page(
        Some(current),
        &instance.name,
        notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / " (instance.name) }
            h1 { (instance.name) }
            (super::places::gap_notices(gaps))
            div.card { dl.facts {
                dt { "Address" } dd { (instance.base_url) }
            } }
            div.actions {
                a.button href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/places" } { "Browse places" }
                a.button.secondary href={ "/tenants/" (tenant.id) "/instances/" (instance.id) "/staging" } { "Stage users" }
            }
        },
    )
}

pub async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<InstanceForm>,
) -> AppResult<Response> {
    let instance = authorized.instance()?.clone();
    let tenant = authorized.tenant;
    let errors = match form.parse(false, state.settings.production) {
        Ok(fields) => match instances::update(
            &state.db,
            &current.audit(&state),
            &state.master_key,
            tenant.id,
            instance.id,
            &fields,
        )
        .await
        {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/tenants/{}/instances/{}?notice={}",
                    tenant.id,
                    instance.id,
                    Notice::InstanceUpdated.code()
                ))
                .into_response());
            }
            Err(error) => {
                let mut errors = FieldErrors::default();
                conflict_or_error(error, &mut errors)?;
                errors
            }
        },
        Err(errors) => errors,
    };
    let page = form_page(
        &current,
        &FormPage {
            tenant: &tenant,
            instance: Some(&instance),
            form: &form,
            errors: &errors,
            notice: None,
            connection: None,
            gaps: &[],
        },
    );
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm_name: String,
}

pub async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    let instance = authorized.instance()?.clone();
    let tenant = authorized.tenant;
    // Typing the name guards against deleting the wrong county's instance by a slip.
    if form.confirm_name.trim() != instance.name {
        return Ok(views::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not deleted",
            &format!(
                "To delete this instance, type its name exactly: {}",
                instance.name
            ),
        ));
    }
    instances::delete(&state.db, &current.audit(&state), tenant.id, instance.id).await?;
    state.cht.forget(instance.id);
    Ok(Redirect::to(&format!(
        "/tenants/{}?notice={}",
        tenant.id,
        Notice::InstanceDeleted.code()
    ))
    .into_response())
}
