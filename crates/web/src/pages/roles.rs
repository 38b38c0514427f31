//! Roles of a tenant: the built-in ones (fixed) and the tenant's own named sets of permissions.
//!
//! **Permission**: `grant` on the whole tenant. A person can only define, change or delete a
//! role whose permissions (before and after) they hold on the whole tenant themselves, never a
//! role they hold, and a permission added to a role must be theirs at each holder's scope for
//! at least as long as that holder's grant runs (`portal_access::delegation`).

use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_access::{DelegationError, delegation};
use portal_domain::{Permission, PermissionSet, RoleKey};
use portal_store::access::{self, Role};

use crate::AppState;
use crate::authz::Authorized;
use crate::denials;
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, FieldErrors, Notice, NoticeQuery, TextField, hidden_csrf, text_field};

#[derive(Debug, Default)]
struct RoleForm {
    key: String,
    name: String,
    permissions: Vec<String>,
}

impl RoleForm {
    /// Checkbox lists arrive as repeated fields, which `serde_urlencoded` cannot collect.
    fn from_body(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            match &*key {
                "key" => form.key = value.into_owned(),
                "name" => form.name = value.into_owned(),
                "permission" => form.permissions.push(value.into_owned()),
                _ => {}
            }
        }
        form
    }
}

fn render(
    current: &CurrentUser,
    authorized: &Authorized,
    roles: &[Role],
    form: &RoleForm,
    errors: &FieldErrors,
    notice: Option<Notice>,
) -> Markup {
    let tenant = &authorized.tenant;
    let base = format!("/tenants/{}/roles", tenant.id);
    views::page(
        Some(current),
        &format!("Roles of {}", tenant.name),
        notice,
        &html! {
            div.breadcrumbs { a href="/tenants" { "Tenants" } " / " a href={ "/tenants/" (tenant.id) } { (tenant.name) } " / Roles" }
            h1 { "Roles" }
            p.muted { "A role is a named set of permissions. Access is given as a role over a place." }
            @if let Some(message) = errors.get("form") { div.notice.error role="alert" { (message) } }
            div.table-wrap { table {
                thead { tr { th { "Role" } th { "Permissions" } th { span.muted { "Action" } } } }
                tbody { @for role in roles {
                    tr {
                        td { (role.name) br; code.muted { (role.key) } @if role.builtin { " · built in" } }
                        td { (role.permissions.iter().map(Permission::as_str).collect::<Vec<_>>().join(", ")) }
                        td { @if !role.builtin {
                            form method="post" action={ (base) "/" (role.key) "/delete" } hx-confirm={ "Delete the role " (role.name) "?" } {
                                (hidden_csrf(&current.csrf_token))
                                button.danger type="submit" { "Delete" }
                            }
                        } }
                    }
                } }
            } }
            h2 { "Define a role" }
            p.muted { "Saving a role that exists changes it for everyone who holds it." }
            form.card method="post" action=(base) {
                (hidden_csrf(&current.csrf_token))
                div.grid2 {
                    (text_field(&TextField { name: "name", label: "Name", kind: "text", value: &form.name, hint: Some("As people will see it, e.g. County data clerk"), required: true, autocomplete: "off" }, errors))
                    (text_field(&TextField { name: "key", label: "Key", kind: "text", value: &form.key, hint: Some("Lower-case letters, digits and underscores, e.g. county_data_clerk"), required: true, autocomplete: "off" }, errors))
                }
                fieldset.invalid[errors.get("permission").is_some()] {
                    legend { "Permissions" }
                    @for permission in Permission::ALL {
                        label { input type="checkbox" name="permission" value=(permission.as_str()) checked[form.permissions.iter().any(|p| p == permission.as_str())]; " " code { (permission.as_str()) } " — " (permission.describe()) }
                    }
                    @if let Some(e) = errors.get("permission") { div.error { (e) } }
                }
                div.actions { button type="submit" { "Save role" } }
            }
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    Ok(render(
        &current,
        &authorized,
        &roles,
        &RoleForm::default(),
        &FieldErrors::default(),
        query.notice,
    ))
}

pub async fn save(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    let form = RoleForm::from_body(&body);
    let mut errors = FieldErrors::default();
    let key = errors.check("key", RoleKey::parse(&form.key));
    if key.as_ref().is_some_and(|k| k.as_builtin().is_some()) {
        errors.add(
            "key",
            "That key belongs to a built-in role; choose another.",
        );
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        errors.add("name", "Name is required (at most 80 characters).");
    }
    let mut permissions = Vec::new();
    for raw in &form.permissions {
        match Permission::parse(raw) {
            Some(p) => permissions.push(p),
            None => errors.add("permission", format!("'{raw}' is not a permission.")),
        }
    }
    let permissions = PermissionSet::new(permissions);
    if permissions.is_empty() {
        errors.add("permission", "Tick at least one permission.");
    }
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let (true, Some(key)) = (errors.is_empty(), &key) {
        let saved = delegation::save_role(
            &state.db,
            &current.audit(&state),
            &authorized.principal,
            authorized.tenant.id,
            key,
            name,
            &permissions,
        )
        .await;
        match saved {
            Ok(()) => {
                return Ok(Redirect::to(&format!(
                    "/tenants/{}/roles?notice={}",
                    authorized.tenant.id,
                    Notice::RoleSaved.code()
                ))
                .into_response());
            }
            Err(DelegationError::Store(error)) => return Err(error.into()),
            Err(refusal @ DelegationError::BuiltinRole(_)) => {
                errors.add("key", refusal.to_string());
            }
            Err(refusal @ DelegationError::OwnAccess(_)) => {
                errors.add("form", refusal.to_string());
                status = StatusCode::FORBIDDEN;
            }
            Err(refusal) => {
                errors.add("permission", refusal.to_string());
                status = StatusCode::FORBIDDEN;
            }
        }
    }
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    let mut response = (
        status,
        render(&current, &authorized, &roles, &form, &errors, None),
    )
        .into_response();
    if status == StatusCode::FORBIDDEN {
        response.extensions_mut().insert(denials::Refused);
    }
    Ok(response)
}

pub async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Path((_, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let key = RoleKey::parse(&key).map_err(|_| AppError::NotFound("role"))?;
    let deleted = delegation::delete_role(
        &state.db,
        &current.audit(&state),
        &authorized.principal,
        authorized.tenant.id,
        &key,
    )
    .await;
    match deleted {
        Ok(()) => {}
        Err(DelegationError::Store(error)) => return Err(error.into()),
        Err(refusal) => {
            let mut errors = FieldErrors::default();
            errors.add("form", refusal.to_string());
            let roles = access::roles(&state.db, authorized.tenant.id).await?;
            let page = render(
                &current,
                &authorized,
                &roles,
                &RoleForm::default(),
                &errors,
                None,
            );
            let mut response = (StatusCode::FORBIDDEN, page).into_response();
            response.extensions_mut().insert(denials::Refused);
            return Ok(response);
        }
    }
    Ok(Redirect::to(&format!(
        "/tenants/{}/roles?notice={}",
        authorized.tenant.id,
        Notice::RoleDeleted.code()
    ))
    .into_response())
}
