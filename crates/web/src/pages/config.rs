//! The tenant's deployment config (the User Management Tool's format): upload the existing file
//! unchanged, or edit it here with a preview of the CSV columns each user type gets; import its
//! `domains` as CHT instances.
//!
//! **Permission**: `manage_config` on the whole tenant (importing instances: `manage_instances`).

use axum::Form;
use axum::extract::{Multipart, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_access::Target;
use portal_deploy_config::{ConfigProblem, DeploymentConfig};
use portal_domain::{BaseUrl, InstanceName, Permission, ServiceUsername};
use portal_store::instances::{self, InstanceFields, ServicePassword};
use serde::Deserialize;

use crate::AppState;
use crate::authz::Authorized;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, NoticeQuery, TextField, hidden_csrf, text_field};

/// Larger than any real config (Kenya's, with its logo, is ~25 kB).
pub const MAX_CONFIG_BYTES: usize = 2 << 20;

fn problems_list(problems: &[ConfigProblem]) -> Markup {
    html! {
        div.notice.error role="alert" {
            p { strong { (problems.len()) " problem(s) in the config. Nothing was saved." } }
            ul { @for p in problems { li { code { (p.path) } ": " (p.reason) } } }
        }
    }
}

/// Accepted, but worth fixing in the file (e.g. a regex without `errorDescription`); shown for
/// as long as the stored config has them.
fn warnings_list(warnings: &[ConfigProblem]) -> Markup {
    html! {
        @if !warnings.is_empty() {
            div.notice.warn role="status" {
                p { strong { (warnings.len()) " warning(s). The config is accepted; fixing these in the file gives users clearer messages." } }
                ul { @for w in warnings { li { code { (w.path) } ": " (w.reason) } } }
            }
        }
    }
}

/// What each user type's CSV looks like: the preview shown before saving.
pub fn columns_preview(config: &DeploymentConfig) -> Markup {
    html! {
        @for kind in &config.contact_types {
            div.card {
                h3 { (kind.friendly) " " code.muted { (kind.name) } }
                p.muted {
                    "Roles: " (kind.user_role.join(", "))
                    @if kind.deactivate_users_on_replace { " · replaced users are deactivated" } @else { " · replaced users are deleted" }
                    @if kind.can_assign_multiple { " · one user may hold several places" }
                }
                div.table-wrap { table {
                    thead { tr { th { "CSV column" } th { "Required" } th { "What goes in it" } } }
                    tbody { @for column in kind.csv_columns() {
                        tr {
                            td { (column.header) }
                            td { @if column.required { "yes" } @else { "no" } }
                            td { (column.kind_description) @if let Some(hint) = &column.hint { br; span.muted { (hint) } } }
                        }
                    } }
                } }
            }
        }
    }
}

async fn page(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    document: &str,
    problems: &[ConfigProblem],
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> AppResult<Markup> {
    let tenant = &authorized.tenant;
    let stored = state.staging.config(tenant.id).await?;
    let instances = instances::list_for_tenant(&state.db, tenant.id).await?;
    let manage_instances = authorized
        .allows(state, &Target::Tenant, Permission::ManageInstances)
        .await?;
    let base = format!("/tenants/{}/config", tenant.id);
    Ok(views::page(
        Some(current),
        "Deployment configuration",
        notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / Configuration" }
            h1 { "Deployment configuration" }
            @if !problems.is_empty() { (problems_list(problems)) }
            @match &stored {
                None => div.card { p { "No configuration yet. Upload the deployment config your ministry used with the User Management Tool (its config.json), unchanged." } },
                Some(cfg) => {
                    (warnings_list(&cfg.config.warnings()))
                    p.muted { "Last changed " (cfg.updated_at.format("%Y-%m-%d %H:%M UTC")) ". Each user type below gets a CSV template with these columns." }
                    (columns_preview(&cfg.config))
                    @if manage_instances && !cfg.config.domains.is_empty() {
                        h2 { "Instances listed in the config" }
                        form.card method="post" action={ (base) "/import-domains" } autocomplete="off" {
                            (hidden_csrf(&current.csrf_token))
                            p { "Add the instances the config lists as this tenant's CHT instances. They share the service account you enter here; change it per instance afterwards." }
                            @for domain in &cfg.config.domains {
                                @let exists = instances.iter().any(|i| i.name == domain.friendly);
                                label { input type="checkbox" name="domain" value=(domain.friendly) disabled[exists] checked[!exists]; " " (domain.friendly) " " span.muted { (domain.base_url()) @if exists { " — already added" } } }
                            }
                            div.grid2 {
                                (text_field(&TextField { name: "service_username", label: "Service account user name", kind: "text", value: "", hint: None, required: true, autocomplete: "off" }, errors))
                                (text_field(&TextField { name: "service_password", label: "Service account password", kind: "password", value: "", hint: Some("Stored encrypted, once per instance."), required: true, autocomplete: "new-password" }, errors))
                            }
                            div.actions { button type="submit" { "Add these instances" } }
                        }
                    }
                }
            }
            h2 { "Upload a config file" }
            form.card method="post" action={ (base) "/upload?_csrf=" (current.csrf_token) } enctype="multipart/form-data" hx-boost="false" {
                div.field { label for="config-file" { "config.json" } input #config-file type="file" name="file" accept=".json,application/json" required; }
                div.actions { button type="submit" { "Check and save" } }
            }
            h2 { "Edit" }
            form.card method="post" action=(base) {
                (hidden_csrf(&current.csrf_token))
                div.field {
                    label for="document" { "The config as JSON" }
                    textarea #document name="document" rows="18" spellcheck="false"
                        hx-post={ (base) "/preview" } hx-trigger="input changed delay:600ms" hx-target="#config-preview" { (document) }
                }
                div.actions {
                    button.secondary type="submit" formaction={ (base) "/preview" } hx-post={ (base) "/preview" } hx-target="#config-preview" { "Preview columns" }
                    button type="submit" { "Check and save" }
                }
                div #config-preview aria-live="polite" {}
            }
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let stored = state.staging.config(authorized.tenant.id).await?;
    let document = stored.map(|c| c.document).unwrap_or_default();
    page(
        &state,
        &current,
        &authorized,
        &document,
        &[],
        &FieldErrors::default(),
        query.notice,
    )
    .await
}

#[derive(Deserialize)]
pub struct DocumentForm {
    #[serde(default)]
    document: String,
}

async fn save_document(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    document: &str,
) -> AppResult<Response> {
    match state
        .staging
        .save_config(&current.audit(state), authorized.tenant.id, document)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/tenants/{}/config?notice={}",
            authorized.tenant.id,
            Notice::ConfigSaved.code()
        ))
        .into_response()),
        Err(portal_batches::BatchError::InvalidConfig(problems)) => {
            let markup = page(
                state,
                current,
                authorized,
                document,
                &problems,
                &FieldErrors::default(),
                None,
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn save(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<DocumentForm>,
) -> AppResult<Response> {
    save_document(&state, &current, &authorized, &form.document).await
}

pub async fn upload(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    multipart: Multipart,
) -> AppResult<Response> {
    let bytes = views::read_upload(
        multipart,
        "Choose the config file to upload.",
        MAX_CONFIG_BYTES,
    )
    .await?
    .file;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(AppError::BadRequest(format!(
            "The file is {} bytes; a deployment config is at most {MAX_CONFIG_BYTES} bytes.",
            bytes.len()
        )));
    }
    let Ok(document) = String::from_utf8(bytes) else {
        let problems = vec![ConfigProblem {
            path: "$".to_owned(),
            reason: "the file is not UTF-8 text; save it as UTF-8 JSON".to_owned(),
        }];
        let markup = page(
            &state,
            &current,
            &authorized,
            "",
            &problems,
            &FieldErrors::default(),
            None,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response());
    };
    save_document(&state, &current, &authorized, &document).await
}

/// An HTMX fragment: the problems, or the columns each user type would get.
pub async fn preview(Form(form): Form<DocumentForm>) -> Markup {
    match portal_deploy_config::check(form.document.as_bytes()) {
        Ok(config) => html! {
            div.notice.ok { "The config is valid. Saving it gives these CSV columns:" }
            (warnings_list(&config.warnings()))
            (columns_preview(&config))
        },
        Err(problems) => problems_list(&problems),
    }
}

/// Adds the config's `domains` as instances, sharing one service account.
pub async fn import_domains(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    let allowed = authorized
        .allows(&state, &Target::Tenant, Permission::ManageInstances)
        .await?;
    if !allowed {
        return Err(AppError::Forbidden("manage this tenant's CHT instances"));
    }
    let mut chosen = Vec::new();
    let (mut username, mut password) = (String::new(), String::new());
    for (key, value) in url::form_urlencoded::parse(&body) {
        match &*key {
            "domain" => chosen.push(value.into_owned()),
            "service_username" => username = value.into_owned(),
            "service_password" => password = value.into_owned(),
            _ => {}
        }
    }
    let Some(config) = state.staging.config(authorized.tenant.id).await? else {
        return Err(AppError::NotFound("deployment config"));
    };
    let mut errors = FieldErrors::default();
    let username = errors.check("service_username", ServiceUsername::parse(&username));
    let password = errors.check("service_password", ServicePassword::parse(&password));
    let (Some(username), Some(password)) = (username, password) else {
        let markup = page(
            &state,
            &current,
            &authorized,
            &config.document,
            &[],
            &errors,
            None,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response());
    };
    let ctx = current.audit(&state);
    for domain in config
        .config
        .domains
        .iter()
        .filter(|d| chosen.contains(&d.friendly))
    {
        let (Ok(name), Ok(base_url)) = (
            InstanceName::parse(&domain.friendly),
            BaseUrl::parse(&domain.base_url()),
        ) else {
            continue;
        };
        if state.settings.production && !base_url.is_https() {
            continue;
        }
        let fields = InstanceFields {
            name,
            base_url,
            service_username: username.clone(),
            service_password: Some(password.clone()),
        };
        match instances::create(
            &state.db,
            &ctx,
            &state.master_key,
            authorized.tenant.id,
            &fields,
        )
        .await
        {
            Ok(_) | Err(portal_store::StoreError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Redirect::to(&format!(
        "/tenants/{}?notice={}",
        authorized.tenant.id,
        Notice::InstancesImported.code()
    ))
    .into_response())
}
