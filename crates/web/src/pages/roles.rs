//! Roles of a tenant: the built-in ones (fixed) and the tenant's own named sets of permissions.
//!
//! **Permission**: `grant` on the whole tenant. A person can only define a role whose
//! permissions they hold on the whole tenant themselves.

use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_access::Target;
use portal_domain::{Permission, PermissionSet, RoleKey};
use portal_store::access::{self, Role};

use crate::AppState;
use crate::authz::Authorized;
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
    let held = authorized.held_at(&state, &Target::Tenant).await?;
    // Changing a role changes everyone holding it: the editor must hold what it grants now
    // as well as what it granted before (else editing would be a way to revoke).
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    let before = key
        .as_ref()
        .and_then(|k| roles.iter().find(|r| &r.key == k))
        .map(|r| r.permissions.clone())
        .unwrap_or_default();
    let beyond: Vec<_> = PermissionSet::new(permissions.iter().chain(before.iter()))
        .iter()
        .filter(|p| !held.contains(*p))
        .map(Permission::as_str)
        .collect();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if !beyond.is_empty() {
        errors.add(
            "permission",
            format!(
                "You do not hold these yourself, so you cannot put them in a role: {}.",
                beyond.join(", ")
            ),
        );
        status = StatusCode::FORBIDDEN;
    }
    if let (true, Some(key)) = (errors.is_empty(), &key) {
        access::save_role(
            &state.db,
            &current.audit(&state),
            authorized.tenant.id,
            key,
            name,
            &permissions,
        )
        .await?;
        return Ok(Redirect::to(&format!(
            "/tenants/{}/roles?notice={}",
            authorized.tenant.id,
            Notice::RoleSaved.code()
        ))
        .into_response());
    }
    let roles = access::roles(&state.db, authorized.tenant.id).await?;
    Ok((
        status,
        render(&current, &authorized, &roles, &form, &errors, None),
    )
        .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Path((_, key)): Path<(String, String)>,
) -> AppResult<Response> {
    let key = RoleKey::parse(&key).map_err(|_| AppError::NotFound("role"))?;
    access::delete_role(
        &state.db,
        &current.audit(&state),
        authorized.tenant.id,
        &key,
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/tenants/{}/roles?notice={}",
        authorized.tenant.id,
        Notice::RoleDeleted.code()
    ))
    .into_response())
}
