//! HTML views as functions returning maud `Markup`. Pages work without JavaScript; HTMX
//! (`hx-boost`) only makes navigation lighter on slow links.

mod forms;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

pub use forms::{FieldErrors, TextField, hidden_csrf, text_field};

use crate::assets;
use crate::context::current_request_id;
use crate::extract::CurrentUser;

/// HTMX settings: no inline styles or eval (the CSP forbids both), and error pages are swapped
/// in like any other page so people see the message.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true,"error":false}]}"#;

/// A one-line confirmation after a redirect. Only these fixed messages can be shown, so a link
/// cannot make the portal display text of someone else's choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notice {
    TenantCreated,
    TenantUpdated,
    TenantDeleted,
    InstanceCreated,
    InstanceUpdated,
    InstanceDeleted,
    PasswordChanged,
    SignedOut,
    SessionEnded,
    PlacesRefreshed,
    AccessGranted,
    AccessRevoked,
    RoleSaved,
    RoleDeleted,
    SignInSaved,
    ConfigSaved,
    InstancesImported,
    RowSaved,
    RowRemoved,
    WarningsAcknowledged,
    Revalidated,
    /// Part A of issue 10: a password chosen through a sign-in link.
    PasswordSet,
}

impl Notice {
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::TenantCreated => "tenant-created",
            Self::TenantUpdated => "tenant-updated",
            Self::TenantDeleted => "tenant-deleted",
            Self::InstanceCreated => "instance-created",
            Self::InstanceUpdated => "instance-updated",
            Self::InstanceDeleted => "instance-deleted",
            Self::PasswordChanged => "password-changed",
            Self::SignedOut => "signed-out",
            Self::SessionEnded => "session-ended",
            Self::PlacesRefreshed => "places-refreshed",
            Self::AccessGranted => "access-granted",
            Self::AccessRevoked => "access-revoked",
            Self::RoleSaved => "role-saved",
            Self::RoleDeleted => "role-deleted",
            Self::SignInSaved => "sign-in-saved",
            Self::ConfigSaved => "config-saved",
            Self::InstancesImported => "instances-imported",
            Self::RowSaved => "row-saved",
            Self::RowRemoved => "row-removed",
            Self::WarningsAcknowledged => "warnings-acknowledged",
            Self::Revalidated => "revalidated",
            Self::PasswordSet => "password-set",
        }
    }

    const fn message(self) -> &'static str {
        match self {
            Self::TenantCreated => "Tenant created.",
            Self::TenantUpdated => "Tenant saved.",
            Self::TenantDeleted => "Tenant deleted.",
            Self::InstanceCreated => {
                "CHT instance added. Its service account password is stored encrypted."
            }
            Self::InstanceUpdated => "CHT instance saved.",
            Self::InstanceDeleted => "CHT instance deleted.",
            Self::PasswordChanged => "Password changed. Your other sessions have been signed out.",
            Self::SignedOut => "You have signed out.",
            Self::SessionEnded => "Your session ended. Sign in again to continue.",
            Self::PlacesRefreshed => "Places read from CHT. The cache is up to date.",
            Self::AccessGranted => {
                "Access given. It is in force now, and recorded in the audit log."
            }
            Self::AccessRevoked => "Access revoked. It ended now, everywhere.",
            Self::RoleSaved => "Role saved. Everyone holding it has its new permissions now.",
            Self::RoleDeleted => "Role deleted.",
            Self::SignInSaved => "Sign-in settings saved.",
            Self::ConfigSaved => "Deployment config checked and saved.",
            Self::InstancesImported => {
                "Instances added from the deployment config. Test each one's connection."
            }
            Self::RowSaved => "Row saved and checked again.",
            Self::RowRemoved => "Row removed from the batch.",
            Self::WarningsAcknowledged => {
                "Warnings acknowledged: the row will be uploaded despite them."
            }
            Self::Revalidated => "Every row was checked again against the current places.",
            Self::PasswordSet => {
                "Your password is set and you are signed in. Any other session of yours was signed out."
            }
        }
    }
}

/// `?notice=` on pages that show a confirmation.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<Notice>,
}

/// The page shell: header with navigation for a signed-in user, then `content`.
pub fn page(
    user: Option<&CurrentUser>,
    title: &str,
    notice: Option<Notice>,
    content: &Markup,
) -> Markup {
    let csrf_headers =
        user.map(|u| serde_json::json!({ "X-CSRF-Token": u.csrf_token }).to_string());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · CHT Portal" }
                link rel="stylesheet" href=(assets::url("app.css"));
                script src=(assets::url("htmx.min.js")) defer {}
            }
            // hx-boost swaps the body's content, not the body: the CSRF header lives on a wrapper
            // inside it, so a page after a session rotation brings its new token along.
            body hx-boost="true" { div.page hx-headers=[csrf_headers] {
                header.top {
                    div.bar {
                        a.brand href="/" { "CHT Portal" }
                        @if let Some(user) = user {
                            nav aria-label="Main" {
                                a href="/tenants" { "Tenants" }
                                a href="/account/password" title="Change your password" { (user.user.display_name) }
                                form method="post" action="/logout" {
                                    (hidden_csrf(&user.csrf_token))
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main {
                    @if let Some(notice) = notice {
                        div.notice.ok role="status" { (notice.message()) }
                    }
                    (content)
                }
            } }
        }
    }
}

/// A `multipart/form-data` form with one file.
pub struct Upload {
    pub file_name: String,
    pub file: Vec<u8>,
    fields: Vec<(String, String)>,
}

impl Upload {
    /// A text field's value ("" when absent).
    #[must_use]
    pub fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Reads an upload form: the `file` field and the text fields. `missing` is the message when no
/// (or an empty) file was sent; `max_bytes` is the route's limit, named when a file exceeds it.
pub async fn read_upload(
    mut multipart: axum::extract::Multipart,
    missing: &str,
    max_bytes: usize,
) -> Result<Upload, crate::error::AppError> {
    use crate::error::AppError;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::BadRequest(format!(
                "The file is larger than {max_bytes} bytes, the most accepted here. Split it \
                 into several files."
            ));
        }
        AppError::BadRequest(format!(
            "The upload could not be read ({e}). If the file is very large, split it."
        ))
    };
    let mut upload = Upload {
        file_name: String::new(),
        file: Vec::new(),
        fields: Vec::new(),
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            upload.file_name = field.file_name().unwrap_or("upload").to_owned();
            upload.file = field.bytes().await.map_err(unreadable)?.to_vec();
        } else {
            upload
                .fields
                .push((name, field.text().await.map_err(unreadable)?));
        }
    }
    if upload.file.is_empty() {
        return Err(AppError::BadRequest(missing.to_owned()));
    }
    Ok(upload)
}

/// How long ago `then` was, in words ("just now", "5 minutes ago", "3 days ago").
#[must_use]
pub fn age(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    let (amount, unit) = match seconds {
        0..60 => return "just now".to_owned(),
        60..3600 => (seconds / 60, "minute"),
        3600..86_400 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{amount} {unit}{} ago", if amount == 1 { "" } else { "s" })
}

/// A full error page with the request id, so a report can be matched to the server log.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut response = (status, error_page_markup(title, message)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page of [`error_page`], for handlers that choose the status themselves.
pub fn error_page_markup(title: &str, message: &str) -> Markup {
    let request_id = current_request_id().filter(|id| !id.is_empty());
    page(
        None,
        title,
        None,
        &html! {
            div.card.narrow {
                h1 { (title) }
                p { (message) }
                @if let Some(id) = &request_id {
                    p.muted { "Request id: " span.request-id { (id) } }
                }
                p { a href="/" { "Go to the start page" } }
            }
        },
    )
}
