use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::extract::CurrentUser;
use crate::views::{self, NoticeQuery};

/// The start page: platform administrators go to their tenants; others see what they can do.
pub async fn home(current: CurrentUser, Query(query): Query<NoticeQuery>) -> Response {
    if current.user.is_platform_admin {
        let target = query.notice.map_or_else(
            || "/tenants".to_owned(),
            |n| format!("/tenants?notice={}", n.code()),
        );
        return Redirect::to(&target).into_response();
    }
    views::page(
        Some(&current),
        "Start",
        query.notice,
        &html! {
            h1 { "Welcome, " (current.user.display_name) }
            div.card { p { "Your account has no access to a tenant yet. Ask your national administrator to give you access." } }
        },
    )
    .into_response()
}
