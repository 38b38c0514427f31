//! One error type for handlers. 4xx errors render a page that says what happened and what to do;
//! 5xx errors are logged with the request id and shown only as "something went wrong" with that
//! id, so no internal detail (or secret) reaches the browser.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use portal_batches::BatchError;
use portal_cht_pool::PoolError;
use portal_store::StoreError;

use crate::views;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign-in required")]
    SignInRequired { next: String, htmx: bool },
    #[error("password change required")]
    PasswordChangeRequired,
    /// A correct password waits for its second step (`pages::second_factor`).
    #[error("second factor pending")]
    SecondFactorPending,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request cannot be used as sent; the message says why and what to do.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("CSRF check failed: {0}")]
    Csrf(&'static str),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A staging service error: a refusal of the person's request is shown to them (422), a
    /// batch outside their area answers as one that does not exist.
    #[error("{0}")]
    Staging(#[from] BatchError),
    /// No CHT client for the instance (`portal-cht-pool`).
    #[error("{0}")]
    Cht(#[from] PoolError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::SignInRequired { next, htmx } => {
                let target = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if !htmx {
                    return Redirect::to(&target).into_response();
                }
                // XHR follows a 303 by itself and htmx would swap the sign-in page into part of
                // this one; a 204 with HX-Redirect makes htmx load the page whole instead.
                let mut response = StatusCode::NO_CONTENT.into_response();
                if let Ok(value) = HeaderValue::from_str(&target) {
                    response.headers_mut().insert("HX-Redirect", value);
                }
                response
            }
            Self::PasswordChangeRequired => Redirect::to("/account/password").into_response(),
            Self::SecondFactorPending => Redirect::to("/login/second-factor").into_response(),
            Self::Forbidden(what) => {
                let mut response = views::error_page(
                    StatusCode::FORBIDDEN,
                    "Not allowed",
                    &format!(
                        "Your account is not allowed to {what}. Ask your national administrator if you need this."
                    ),
                );
                // The route layer records it in the audit trail.
                response.extensions_mut().insert(crate::denials::Refused);
                response
            }
            Self::NotFound(what) => views::error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("This {what} does not exist, or it was deleted."),
            ),
            Self::BadRequest(message) => {
                views::error_page(StatusCode::BAD_REQUEST, "Cannot use this request", &message)
            }
            Self::Csrf(reason) => {
                tracing::warn!(
                    reason,
                    "rejected a state-changing request that failed the CSRF check"
                );
                views::error_page(
                    StatusCode::FORBIDDEN,
                    "The form has expired",
                    "This form was open too long, or it came from another site. Go back, reload the page and try again.",
                )
            }
            Self::Store(StoreError::NotFound(what)) => Self::NotFound(what).into_response(),
            Self::Store(StoreError::Conflict(message) | StoreError::Refused(message)) => {
                views::error_page(StatusCode::CONFLICT, "Cannot do that", &message)
            }
            Self::Store(error) => internal(&error),
            Self::Staging(BatchError::Refused(refusal)) => views::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Nothing was staged or changed",
                &refusal.to_string(),
            ),
            Self::Staging(BatchError::Hidden) => {
                let mut response = Self::NotFound("batch").into_response();
                // Still a refusal: recorded in the audit trail like any other.
                response.extensions_mut().insert(crate::denials::Refused);
                response
            }
            Self::Staging(BatchError::Store(error)) => Self::Store(error).into_response(),
            Self::Staging(error) => internal(&error),
            Self::Cht(PoolError::UnknownInstance) => Self::NotFound("CHT instance").into_response(),
            // Unopenable credentials or unusable stored settings: the administrator's problem,
            // logged with the request id.
            Self::Cht(error) => internal(&error),
            Self::Internal(error) => internal(&*error),
        }
    }
}

fn internal(error: &dyn std::error::Error) -> Response {
    // The request id is on the span, so this line can be matched to the person's report.
    tracing::error!(error = %error, "request failed");
    let mut response = views::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The portal could not complete this request. It has been logged; if it keeps happening, give the administrator the request id shown below.",
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_errors_answer_like_the_instance_they_name() {
        // Another tenant's instance is not found either: its existence is not confirmed.
        let unknown: AppError = PoolError::UnknownInstance.into();
        assert_eq!(unknown.into_response().status(), StatusCode::NOT_FOUND);
        let changing: AppError = PoolError::Changing(portal_domain::InstanceId::new()).into();
        assert_eq!(
            changing.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
