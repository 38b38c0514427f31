use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::AppState;
use crate::error::AppResult;
use crate::extract::CurrentUser;
use crate::views::{self, NoticeQuery};

/// The start page: people with access go to their tenants; others are told how to get some.
pub async fn home(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Response> {
    let member = !portal_store::access::user_tenants(&state.db, current.user.id, state.clock.now())
        .await?
        .is_empty();
    if current.user.is_platform_admin || member {
        let target = query.notice.map_or_else(
            || "/tenants".to_owned(),
            |n| format!("/tenants?notice={}", n.code()),
        );
        return Ok(Redirect::to(&target).into_response());
    }
    Ok(views::page(
        Some(&current),
        "Start",
        query.notice,
        &html! {
            h1 { "Welcome, " (current.user.display_name) }
            div.card { p { "Your account has no access to a tenant yet. Ask your national administrator to give you access." } }
        },
    )
    .into_response())
}
