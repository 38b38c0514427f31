//! Staging: per user type, download a CSV template, upload a CSV or Excel file, or type one row;
//! then the batch page: counts, filters, search, paging, inline editing with immediate
//! re-validation, removal, acknowledging warnings, re-validating everything, and exporting the
//! rows with errors as CSV.
//!
//! **Permission**: `stage` somewhere in the instance. A batch is fixed to its author's `stage`
//! area when it is uploaded, and its rows are always validated within that area, whoever edits
//! them (a place outside it is reported as outside the batch's area). A batch is visible to
//! whoever may stage in all of its area: its author and colleagues there, and those above them.

use axum::Form;
use axum::extract::{Multipart, Path, Query, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use portal_batches::{CopiedValue, Input, Operator, Refusal, TenantConfig};
use portal_deploy_config::ContactType;
use portal_domain::{Permission, PlaceScope, RowStatus};
use portal_staging::Validator;
use portal_store::places;
use portal_store::staging::{BatchInfo, RowQuery, RowRecord};
use serde::Deserialize;

use crate::AppState;
use crate::authz::{self, Authorized};
use crate::error::{AppError, AppResult};
use crate::extract::CurrentUser;
use crate::views::{self, Notice, NoticeQuery, hidden_csrf};

/// Uploads up to this size (the staging engine's own limit is the same).
pub const MAX_UPLOAD_BYTES: usize = 32 << 20;
const PAGE_SIZE: u64 = 50;

fn base(authorized: &Authorized) -> AppResult<String> {
    let instance = authorized.instance()?;
    Ok(format!(
        "/tenants/{}/instances/{}/staging",
        authorized.tenant.id, instance.id
    ))
}

async fn config(state: &AppState, authorized: &Authorized) -> AppResult<TenantConfig> {
    state
        .staging
        .config(authorized.tenant.id)
        .await?
        .ok_or_else(|| AppError::BadRequest(Refusal::NoConfig.to_string()))
}

/// The operator's filter for staging in this instance.
async fn stage_filter(state: &AppState, authorized: &Authorized) -> AppResult<PlaceScope> {
    let instance = authorized.instance()?;
    authz::place_filter(state, authorized, instance.id, Some(Permission::Stage)).await
}

/// Where the operator may stage in this instance now.
async fn area(state: &AppState, authorized: &Authorized) -> AppResult<PlaceScope> {
    stage_filter(state, authorized).await
}

async fn operator(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
) -> AppResult<Operator> {
    Ok(Operator {
        ctx: current.audit(state),
        area: area(state, authorized).await?,
        today: state.clock.now().date_naive(),
    })
}

/// A batch the operator may work on: in this instance, and staged inside their area (one
/// outside it answers as one that does not exist).
async fn visible_batch(
    state: &AppState,
    authorized: &Authorized,
    id: &str,
) -> AppResult<BatchInfo> {
    let instance = authorized.instance()?;
    let id: uuid::Uuid = id.parse().map_err(|_| AppError::NotFound("batch"))?;
    let area = area(state, authorized).await?;
    Ok(state.staging.visible_batch(&area, instance.id, id).await?)
}

fn status_badge(status: RowStatus, acknowledged: bool) -> Markup {
    let (class, text) = match (status, acknowledged) {
        (RowStatus::Valid, _) => ("ok", "valid"),
        (RowStatus::Warning, true) => ("ok", "warning acknowledged"),
        (RowStatus::Warning, false) => ("warn", "warning"),
        (RowStatus::Error, _) => ("error", "error"),
    };
    html! { span class={ "badge " (class) } { (text) } }
}

fn row_id(idx: i32) -> String {
    format!("row-{idx}")
}

/// One row of the batch table.
fn row_view(
    base: &str,
    batch: &BatchInfo,
    csrf: &str,
    row: &RowRecord,
    columns: &Columns,
) -> Markup {
    let headers = &columns.headers;
    let row_base = format!("{base}/{}/rows/{}", batch.id, row.idx);
    // A parent staged in another batch, named under the parent's cell while it resolves.
    let staged_parent = row.depends_on.filter(|d| {
        row.place.as_ref().and_then(|p| p.parent_id.as_deref())
            == Some(portal_store::staging::Dependency::place_id(d.batch, d.idx).as_str())
    });
    html! {
        tr id=(row_id(row.idx)) {
            td { (row.line) }
            td { (status_badge(row.status, row.acknowledged)) }
            @for (i, _) in headers.iter().enumerate() {
                @let value = row.raw.get(i).map_or("", String::as_str);
                @let bad = row.problems.iter().any(|p| p.column.as_deref() == headers.get(i).map(String::as_str));
                td.invalid[bad] {
                    (value)
                    @if let Some(d) = staged_parent.filter(|_| columns.parent == Some(i) && !bad) {
                        br;
                        span.muted.staged {
                            "Will be created by "
                            a href={ (base) "/" (d.batch) "#" (row_id(d.idx)) } {
                                "row " (d.line) " of " (columns.staged_in.get(&d.batch).map_or("another staged batch", String::as_str))
                            }
                        }
                    }
                }
            }
            td {
                @if let (Some(place), Some(copied)) = (row.place.as_ref(), columns.copied.get(&row.idx).filter(|c| !c.is_empty())) {
                    // What the deployment profile copies onto the new place, and from where.
                    div.copied {
                        span.muted { "Creates " q { (place.name) } " with:" }
                        ul { @for c in copied { li { code { (c.property) } " = " q { (c.value) } " " span.muted { "(" (c.from) ")" } } } }
                    }
                }
                @if !row.problems.is_empty() {
                    ul.problems { @for p in &row.problems {
                        li { @if let Some(c) = &p.column { strong { (c) } ": " } (p.message) @if !p.value.is_empty() { " (" q { (p.value) } ")" } @if !p.fix.is_empty() { br; span.muted { (p.fix) } } }
                    } }
                }
                @if !row.warnings.is_empty() {
                    ul.warnings { @for w in &row.warnings {
                        li { @if let Some(c) = &w.column { strong { (c) } ": " } (w.message) @if !w.fix.is_empty() { br; span.muted { (w.fix) } } }
                    } }
                }
            }
            td.actions {
                a.button.secondary href={ (row_base) "/edit" } hx-get={ (row_base) "/edit" } hx-target={ "#" (row_id(row.idx)) } hx-swap="outerHTML" { "Edit" }
                @if row.status == RowStatus::Warning && !row.acknowledged {
                    form method="post" action={ (row_base) "/acknowledge" } hx-post={ (row_base) "/acknowledge" } hx-target={ "#" (row_id(row.idx)) } hx-swap="outerHTML" {
                        (hidden_csrf(csrf)) button.secondary type="submit" { (portal_staging::ACKNOWLEDGE_BUTTON) }
                    }
                }
                form method="post" action={ (row_base) "/remove" } hx-post={ (row_base) "/remove" } hx-target={ "#" (row_id(row.idx)) } hx-swap="outerHTML" hx-confirm="Remove this row from the batch?" {
                    (hidden_csrf(csrf)) button.danger type="submit" { "Remove" }
                }
            }
        }
    }
}

fn page_link(here: &str, status: &str, q: &str, page: u64) -> String {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("{here}?status={status}&q={q}&page={page}")
}

/// The counts per status, each a filter link. `oob`: sent along with a changed row, so the
/// counts follow an inline edit.
fn counts_nav(here: &str, info: &BatchInfo, current: &str, q: &str, oob: bool) -> Markup {
    let filters = [
        ("", "All", info.total()),
        ("valid", "Valid", info.valid),
        ("warning", "Warnings", info.warning),
        ("error", "Errors", info.error),
    ];
    html! {
        nav #batch-counts.filters aria-label="Filter rows" hx-swap-oob=[oob.then_some("true")] {
            @for (status, label, count) in filters {
                a.button.secondary href=(page_link(here, status, q, 1)) aria-current=[(current == status).then_some("true")] { (label) " " (count) }
            }
        }
    }
}

fn headers_of(kind: &ContactType) -> AppResult<Vec<String>> {
    let validator = Validator::new(kind).map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(validator
        .columns()
        .iter()
        .map(|c| c.header.clone())
        .collect())
}

/// What the batch table needs to draw rows: the columns, which one names the parent, and the
/// file names of the batches a parent may be staged in.
struct Columns {
    headers: Vec<String>,
    parent: Option<usize>,
    staged_in: std::collections::HashMap<uuid::Uuid, String>,
    /// What the deployment profile copies onto each row's new place, by row index.
    copied: std::collections::HashMap<i32, Vec<CopiedValue>>,
}

/// The columns for drawing `rows` of batch `info`, with what the profile copies onto their places.
async fn columns_of(
    state: &AppState,
    config: &TenantConfig,
    kind: &ContactType,
    info: &BatchInfo,
    rows: &[RowRecord],
) -> AppResult<Columns> {
    let headers = headers_of(kind)?;
    let parent = kind
        .hierarchy
        .iter()
        .find(|h| h.level == 1)
        .and_then(|h| headers.iter().position(|c| *c == h.property.friendly_name));
    let staged_in = state
        .staging
        .batches(info.instance_id)
        .await?
        .into_iter()
        .filter(|b| b.id != info.id)
        .map(|b| (b.id, b.file_name))
        .collect();
    let copied = state.staging.copied_values(info, config, rows).await?;
    Ok(Columns {
        headers,
        parent,
        staged_in,
        copied,
    })
}

pub async fn index(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Query(query): Query<NoticeQuery>,
) -> AppResult<Markup> {
    let instance = authorized.instance()?;
    // The place index is loaded now, while the person picks a file, not when they upload it.
    let warming = state.clone();
    let instance_id = instance.id;
    tokio::spawn(async move {
        if let Err(error) = warming.staging.warm(instance_id).await {
            tracing::warn!(%error, "could not load the place index ahead of an upload");
        }
    });
    let base = base(&authorized)?;
    let config = state.staging.config(authorized.tenant.id).await?;
    let area = area(&state, &authorized).await?;
    let mut batches = Vec::new();
    for info in state.staging.batches(instance.id).await? {
        if state.staging.may_see(&area, &info).await? {
            batches.push(info);
        }
    }
    let cache = places::sync_status(&state.db, instance.id).await?;
    let now = state.clock.now();
    let refresh = super::places::can_refresh(&state, &authorized, instance).await?;
    Ok(views::page(
        Some(&current),
        &format!("Staging for {}", instance.name),
        query.notice,
        &html! {
            div.breadcrumbs {
                a href="/tenants" { "Tenants" } " / "
                a href={ "/tenants/" (authorized.tenant.id) } { (authorized.tenant.name) } " / "
                a href={ "/tenants/" (authorized.tenant.id) "/instances/" (instance.id) } { (instance.name) } " / Staging"
            }
            h1 { "Stage users for " (instance.name) }
            @if cache.is_empty() {
                div.notice.warn { "The portal has not read this instance's places yet, so no hierarchy column can be matched. " a href={ "/tenants/" (authorized.tenant.id) "/instances/" (instance.id) "/places" } { "Refresh the places" } " first." }
            } @else {
                p.muted { "Places last read from CHT " (views::age(now, cache.iter().map(|s| s.refreshed_at).min().unwrap_or(now))) ". " a href={ "/tenants/" (authorized.tenant.id) "/instances/" (instance.id) "/places" } { "Refresh" } }
            }
            @if let (Some(config), true) = (&config, refresh) {
                details {
                    summary { "Refresh one place type from CHT" }
                    div.table-wrap { table {
                        thead { tr { th { "Place type" } th { "Places" } th { "Read" } th { span.muted { "Action" } } } }
                        tbody { @for kind in config.config.place_types() {
                            @let status = cache.iter().find(|s| s.contact_type == kind);
                            tr {
                                td { code { (kind) } }
                                td { (status.map_or(0, |s| s.place_count)) }
                                td { (status.map_or_else(|| "never".to_owned(), |s| views::age(now, s.refreshed_at))) }
                                td { form method="post" action={ (base) "/refresh" } {
                                    (hidden_csrf(&current.csrf_token))
                                    input type="hidden" name="contact_type" value=(kind);
                                    button.secondary type="submit" { "Refresh" }
                                } }
                            }
                        } }
                    } }
                }
            }
            @match &config {
                None => div.card { p { (Refusal::NoConfig.to_string()) } },
                Some(config) => {
                    @for kind in &config.config.contact_types {
                        div.card {
                            h2 { (kind.friendly) }
                            div.actions { a.button.secondary href={ (base) "/template/" (kind.name) } hx-boost="false" download { "Download the CSV template" } }
                            form method="post" action={ (base) "/upload?_csrf=" (current.csrf_token) } enctype="multipart/form-data" hx-boost="false" {
                                input type="hidden" name="contact_type" value=(kind.name);
                                div.field {
                                    label for={ "file-" (kind.name) } { "CSV or Excel file" }
                                    input id={ "file-" (kind.name) } type="file" name="file" accept=".csv,.txt,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required;
                                    div.hint { "UTF-8, Windows or Latin-1 text; comma or semicolon separated; or .xlsx. Columns are matched by name, ignoring case and spacing." }
                                }
                                div.actions { button type="submit" { "Upload and check" } }
                            }
                            details {
                                summary { "Or add one " (kind.friendly) " by hand" }
                                (row_form(&format!("{base}/new-row"), &current.csrf_token, kind, None, &[]))
                            }
                        }
                    }
                }
            }
            h2 { "Batches" }
            @if batches.is_empty() {
                p.muted { "No batches yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "File" } th { "User type" } th { "Rows" } th { "Valid" } th { "Warnings" } th { "Errors" } th { "Staged by" } th { "When" } } }
                    tbody { @for b in &batches {
                        tr {
                            td { a href={ (base) "/" (b.id) } { (b.file_name) } }
                            td { (b.contact_type) }
                            td { (b.total()) } td { (b.valid) } td { (b.warning) } td { (b.error) }
                            td { (b.created_by_label) }
                            td { (views::age(now, b.created_at)) }
                        }
                    } }
                } }
            }
        },
    ))
}

/// A form with one input per CSV column of `kind`.
fn row_form(
    action: &str,
    csrf: &str,
    kind: &ContactType,
    hx_target: Option<&str>,
    values: &[String],
) -> Markup {
    let columns = kind.csv_columns();
    html! {
        form method="post" action=(action) hx-post=[hx_target.map(|_| action)] hx-target=[hx_target] hx-swap=[hx_target.map(|_| "outerHTML")] {
            (hidden_csrf(csrf))
            input type="hidden" name="contact_type" value=(kind.name);
            div.grid2 {
                @for (i, column) in columns.iter().enumerate() {
                    div.field {
                        label for={ "cell-" (i) } { (column.header) @if column.required { " *" } }
                        input id={ "cell-" (i) } type="text" name="cell" value=(values.get(i).map_or("", String::as_str)) autocomplete="off";
                        div.hint { (column.kind_description) }
                    }
                }
            }
            div.actions { button type="submit" { "Check and save" } }
        }
    }
}

/// The CSV template of a user type.
pub async fn template(
    State(state): State<AppState>,
    authorized: Authorized,
    Path((_, _, contact_type)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let config = config(&state, &authorized).await?;
    let kind = config
        .contact_type(&contact_type)
        .ok_or(AppError::NotFound("user type"))?;
    let mut response = kind.template_csv().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{}.csv\"",
        kind.name.replace(['"', '\\', '/'], "_")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

pub async fn upload(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    multipart: Multipart,
) -> AppResult<Response> {
    let upload = views::read_upload(
        multipart,
        "Choose a CSV or Excel file to upload.",
        MAX_UPLOAD_BYTES,
    )
    .await?;
    let kind = upload.field("contact_type");
    let (name, file) = (upload.file_name, upload.file);
    let config = config(&state, &authorized).await?;
    let operator = operator(&state, &current, &authorized).await?;
    let instance = authorized.instance()?;
    let info = state
        .staging
        .stage(
            &operator,
            authorized.tenant.id,
            instance.id,
            &config,
            &kind,
            Input::File { name, bytes: file },
        )
        .await?;
    Ok(Redirect::to(&format!("{}/{}", base(&authorized)?, info.id)).into_response())
}

/// Cells of a row form, in column order.
fn cells(body: &[u8]) -> (String, Vec<String>) {
    let mut kind = String::new();
    let mut cells = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match &*key {
            "contact_type" => kind = value.into_owned(),
            "cell" => cells.push(value.into_owned()),
            _ => {}
        }
    }
    (kind, cells)
}

/// One row typed into the form: a batch of its own.
pub async fn new_row(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    let (kind_name, cells) = cells(&body);
    let config = config(&state, &authorized).await?;
    let operator = operator(&state, &current, &authorized).await?;
    let instance = authorized.instance()?;
    // Validated as an uploaded row would be, with its cells as typed (a typed "'=1" stays).
    let info = state
        .staging
        .stage(
            &operator,
            authorized.tenant.id,
            instance.id,
            &config,
            &kind_name,
            Input::Typed(cells),
        )
        .await?;
    Ok(Redirect::to(&format!("{}/{}", base(&authorized)?, info.id)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct BatchQuery {
    notice: Option<Notice>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u64,
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Path((_, _, batch_id)): Path<(String, String, String)>,
    Query(query): Query<BatchQuery>,
) -> AppResult<Markup> {
    let info = visible_batch(&state, &authorized, &batch_id).await?;
    let config = config(&state, &authorized).await?;
    let kind = config
        .contact_type(&info.contact_type)
        .ok_or(AppError::NotFound("user type"))?;
    let status = RowStatus::parse(&query.status);
    let page = query.page.max(1);
    let (rows, matching) = state
        .staging
        .rows(
            &info,
            &RowQuery {
                status,
                search: query.q.clone(),
                offset: (page - 1) * PAGE_SIZE,
                limit: PAGE_SIZE,
            },
        )
        .await?;
    let columns = columns_of(&state, &config, kind, &info, &rows).await?;
    let headers = &columns.headers;
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let base = base(&authorized)?;
    let here = format!("{base}/{}", info.id);
    let link = |status: &str, page: u64| page_link(&here, status, &query.q, page);
    let current_status = status.map_or("", RowStatus::as_str);
    let area = state.staging.area_names(&info).await?;
    Ok(views::page(
        Some(&current),
        &info.file_name,
        query.notice,
        &html! {
            div.breadcrumbs { a href=(base) { "Staging" } " / " (info.file_name) }
            h1 { (kind.friendly) ": " (info.file_name) }
            p.muted { "Staged by " (info.created_by_label) " for " (area) ": every row is checked against that area, whoever edits it." }
            @for notice in &info.notices { div.notice.warn { (notice) } }
            (counts_nav(&here, &info, current_status, &query.q, false))
            form.search method="get" action=(here) role="search" {
                input type="hidden" name="status" value=(current_status);
                label for="q" { "Search the rows" }
                input #q type="search" name="q" value=(query.q) placeholder="A name, phone or place";
                button.secondary type="submit" { "Search" }
            }
            div.actions {
                form method="post" action={ (here) "/revalidate" } {
                    (hidden_csrf(&current.csrf_token))
                    button.secondary type="submit" { "Check every row again" }
                }
                @if info.error > 0 {
                    a.button.secondary href={ (here) "/invalid.csv" } hx-boost="false" download { "Download the rows with errors (CSV)" }
                }
            }
            p.muted { (matching) " row(s) match. Page " (page) " of " (pages) "." }
            div.table-wrap { table.batch {
                thead { tr {
                    th { "Row" } th { "Status" }
                    @for h in headers { th { (h) } }
                    th { "Problems" } th { span.muted { "Actions" } }
                } }
                tbody { @for row in &rows { (row_view(&base, &info, &current.csrf_token, row, &columns)) } }
            } }
            nav.pager aria-label="Pages" {
                @if page > 1 { a.button.secondary href=(link(current_status, page - 1)) { "Previous" } }
                @if page < pages { a.button.secondary href=(link(current_status, page + 1)) { "Next" } }
            }
            details {
                summary { "Add a row to this batch" }
                (row_form(&format!("{here}/rows"), &current.csrf_token, kind, None, &[]))
            }
        },
    ))
}

async fn batch_and_config(
    state: &AppState,
    authorized: &Authorized,
    batch_id: &str,
) -> AppResult<(BatchInfo, TenantConfig)> {
    let info = visible_batch(state, authorized, batch_id).await?;
    let config = config(state, authorized).await?;
    Ok((info, config))
}

fn parse_idx(raw: &str) -> AppResult<usize> {
    raw.parse().map_err(|_| AppError::NotFound("row"))
}

/// The edit form of a row: a table row for HTMX, a page otherwise.
pub async fn edit(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id, idx)): Path<(String, String, String, String)>,
) -> AppResult<Markup> {
    let (info, config) = batch_and_config(&state, &authorized, &batch_id).await?;
    let idx = parse_idx(&idx)?;
    let kind = config
        .contact_type(&info.contact_type)
        .ok_or(AppError::NotFound("user type"))?;
    let row = state.staging.row(&info, idx).await?;
    let action = format!("{}/{}/rows/{idx}", base(&authorized)?, info.id);
    let columns = kind.csv_columns();
    if headers.contains_key("hx-request") {
        let span = columns.len() + 4;
        return Ok(html! {
            tr id=(row_id(row.idx)) {
                td colspan=(span) {
                    p { strong { "Row " (row.line) } }
                    @if !row.problems.is_empty() { ul.problems { @for p in &row.problems { li { @if let Some(c) = &p.column { strong { (c) } ": " } (p.message) " " span.muted { (p.fix) } } } } }
                    (row_form(&action, &current.csrf_token, kind, Some(&format!("#{}", row_id(row.idx))), &row.raw))
                }
            }
        });
    }
    Ok(views::page(
        Some(&current),
        "Edit row",
        None,
        &html! {
            h1 { "Row " (row.line) " of " (info.file_name) }
            @if !row.problems.is_empty() { ul.problems { @for p in &row.problems { li { @if let Some(c) = &p.column { strong { (c) } ": " } (p.message) " " span.muted { (p.fix) } } } } }
            (row_form(&action, &current.csrf_token, kind, None, &row.raw))
        },
    ))
}

/// Answers a row change: the redrawn row for HTMX (other rows whose warnings changed are sent
/// out of band), a redirect to the batch otherwise.
#[allow(clippy::too_many_arguments)]
fn row_changed(
    authorized: &Authorized,
    current: &CurrentUser,
    headers: &HeaderMap,
    columns: &Columns,
    info: &BatchInfo,
    idx: usize,
    changed: &[RowRecord],
    notice: Notice,
) -> AppResult<Response> {
    let base = base(authorized)?;
    if !headers.contains_key("hx-request") {
        return Ok(
            Redirect::to(&format!("{base}/{}?notice={}", info.id, notice.code())).into_response(),
        );
    }
    let idx = i32::try_from(idx).unwrap_or(i32::MAX);
    Ok(html! {
        @match changed.iter().find(|r| r.idx == idx) {
            Some(row) => (row_view(&base, info, &current.csrf_token, row, columns)),
            // Removed: an empty placeholder takes its place.
            None => tr id=(row_id(idx)) { td colspan=(columns.headers.len() + 4) { span.muted { "Row removed." } } },
        }
        // In a <template>: the response is parsed in a table's context, where a <nav> would be
        // dropped.
        template { (counts_nav(&format!("{base}/{}", info.id), info, "", "", true)) }
        @for other in changed.iter().filter(|r| r.idx != idx) {
            // Out of band: rows whose duplicate warnings changed with this edit.
            @let markup = row_view(&base, info, &current.csrf_token, other, columns);
            template { (maud::PreEscaped(markup.into_string().replacen("<tr ", "<tr hx-swap-oob=\"true\" ", 1))) }
        }
    }
    .into_response())
}

async fn apply(
    state: &AppState,
    current: &CurrentUser,
    authorized: &Authorized,
    headers: &HeaderMap,
    batch_id: &str,
    what: Change,
) -> AppResult<Response> {
    let idx = what.row();
    let (info, config) = batch_and_config(state, authorized, batch_id).await?;
    let kind = config
        .contact_type(&info.contact_type)
        .ok_or(AppError::NotFound("user type"))?
        .clone();
    let operator = operator(state, current, authorized).await?;
    let staging = &state.staging;
    let (outcome, notice) = match what {
        Change::Edit(idx, cells) => (
            staging
                .edit_row(&operator, &info, &config, idx, cells)
                .await,
            Notice::RowSaved,
        ),
        Change::Add(cells) => (
            staging.add_row(&operator, &info, &config, cells).await,
            Notice::RowSaved,
        ),
        Change::Remove(idx) => (
            staging.remove_row(&operator, &info, &config, idx).await,
            Notice::RowRemoved,
        ),
        Change::Acknowledge(idx) => (
            staging.acknowledge(&operator, &info, &config, idx).await,
            Notice::WarningsAcknowledged,
        ),
        Change::Revalidate => (
            staging.revalidate(&operator, &info, &config).await,
            Notice::Revalidated,
        ),
    };
    let (after, changed) = outcome?;
    match idx {
        Some(idx) => row_changed(
            authorized,
            current,
            headers,
            &columns_of(state, &config, &kind, &after, &changed).await?,
            &after,
            idx,
            &changed,
            notice,
        ),
        None => Ok(Redirect::to(&format!(
            "{}/{}?notice={}",
            base(authorized)?,
            after.id,
            notice.code()
        ))
        .into_response()),
    }
}

enum Change {
    Edit(usize, Vec<String>),
    Add(Vec<String>),
    Remove(usize),
    Acknowledge(usize),
    Revalidate,
}

impl Change {
    /// The row the change is about, for redrawing it; `None` for batch-wide changes.
    const fn row(&self) -> Option<usize> {
        match self {
            Self::Edit(idx, _) | Self::Remove(idx) | Self::Acknowledge(idx) => Some(*idx),
            Self::Add(_) | Self::Revalidate => None,
        }
    }
}

pub async fn save_row(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id, idx)): Path<(String, String, String, String)>,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    let idx = parse_idx(&idx)?;
    let (_, cells) = cells(&body);
    apply(
        &state,
        &current,
        &authorized,
        &headers,
        &batch_id,
        Change::Edit(idx, cells),
    )
    .await
}

pub async fn add_row(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id)): Path<(String, String, String)>,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    let (_, cells) = cells(&body);
    apply(
        &state,
        &current,
        &authorized,
        &headers,
        &batch_id,
        Change::Add(cells),
    )
    .await
}

pub async fn remove_row(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id, idx)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    let idx = parse_idx(&idx)?;
    apply(
        &state,
        &current,
        &authorized,
        &headers,
        &batch_id,
        Change::Remove(idx),
    )
    .await
}

pub async fn acknowledge(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id, idx)): Path<(String, String, String, String)>,
) -> AppResult<Response> {
    let idx = parse_idx(&idx)?;
    apply(
        &state,
        &current,
        &authorized,
        &headers,
        &batch_id,
        Change::Acknowledge(idx),
    )
    .await
}

pub async fn revalidate(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    headers: HeaderMap,
    Path((_, _, batch_id)): Path<(String, String, String)>,
) -> AppResult<Response> {
    apply(
        &state,
        &current,
        &authorized,
        &headers,
        &batch_id,
        Change::Revalidate,
    )
    .await
}

/// The rows with errors as CSV (the line, the uploaded columns, an "Errors" column), sent as it
/// is read from the database.
pub async fn invalid_csv(
    State(state): State<AppState>,
    authorized: Authorized,
    Path((_, _, batch_id)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let (info, config) = batch_and_config(&state, &authorized, &batch_id).await?;
    let pieces = state.staging.invalid_csv(&info, &config).await?;
    let mut response = axum::body::Body::from_stream(pieces).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{}\"",
        errors_file_name(&info.file_name)
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `chp-upload.csv` → `chp-upload-errors.csv`: the upload's name reduced to letters, digits,
/// `-` and `_` (nothing a header or a file system could misread), at most 80 of them.
fn errors_file_name(uploaded: &str) -> String {
    let stem = uploaded.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = stem.rsplit_once('.').map_or(stem, |(stem, _)| stem);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let safe = safe.trim_matches('-');
    if safe.is_empty() {
        "rows-with-errors.csv".to_owned()
    } else {
        format!("{safe}-errors.csv")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TypeForm {
    #[serde(default)]
    contact_type: String,
}

/// Refreshes one place type of the cache (the hierarchy types of a user type, say).
pub async fn refresh_type(
    State(state): State<AppState>,
    current: CurrentUser,
    authorized: Authorized,
    Form(form): Form<TypeForm>,
) -> AppResult<Response> {
    let config = config(&state, &authorized).await?;
    let known: Vec<String> = config
        .config
        .place_types()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let types: Vec<String> = if form.contact_type.is_empty() {
        known.clone()
    } else {
        vec![form.contact_type.clone()]
    };
    if !types.iter().all(|t| known.contains(t)) {
        return Err(AppError::BadRequest(
            "That is not a place type of the deployment config.".to_owned(),
        ));
    }
    super::places::refresh_cache(
        &state,
        &current,
        &authorized,
        Some(types),
        &base(&authorized)?,
    )
    .await
}
