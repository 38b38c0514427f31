//! Giving access to a CHT username on one of the tenant's instances (issue 10, part C): the
//! form's fields, and their parsing into a [`Grantee::ChtUser`]. Only instances where the tenant
//! allows sign-in with a CHT account are offered: elsewhere the person would have no way in.

use std::collections::BTreeSet;

use maud::{Markup, html};
use portal_domain::{InstanceId, TenantId};
use portal_store::access::Grantee;
use portal_store::cht_identities::{self, ChtUsername};
use portal_store::instances::Instance;

use crate::AppState;
use crate::error::AppResult;
use crate::views::FieldErrors;

/// The instances of `tenant` that allow CHT-account sign-in.
pub(super) async fn allowed(state: &AppState, tenant: TenantId) -> AppResult<BTreeSet<InstanceId>> {
    Ok(cht_identities::allowed_in_tenant(&state.db, tenant).await?)
}

/// "Or by CHT username on instance …": shown when some instance of the tenant allows it.
pub(super) fn fields(
    chosen_instance: &str,
    username: &str,
    errors: &FieldErrors,
    instances: &[Instance],
    allowed: &BTreeSet<InstanceId>,
) -> Markup {
    let offered: Vec<&Instance> = instances
        .iter()
        .filter(|i| allowed.contains(&i.id))
        .collect();
    html! {
        @if !offered.is_empty() {
            div.grid2 {
                div.field.invalid[errors.get("cht_username").is_some()] {
                    label for="cht_username" { "Or by CHT username" }
                    input #cht_username type="text" name="cht_username" value=(username) autocomplete="off" spellcheck="false";
                    @if let Some(e) = errors.get("cht_username") { div.error { (e) } }
                    div.hint { "They sign in with their CHT username and password on that instance, and get only the access you give here." }
                }
                div.field {
                    label for="cht_instance" { "On CHT instance" }
                    select #cht_instance name="cht_instance" {
                        @for instance in &offered {
                            option value=(instance.id) selected[instance.id.to_string() == chosen_instance] { (instance.name) }
                        }
                    }
                }
            }
        }
    }
}

/// The grantee a CHT username names, or the message for the `cht_username` field.
pub(super) async fn parse(
    state: &AppState,
    tenant: TenantId,
    instance: &str,
    username: &str,
    display_name: &str,
) -> AppResult<Result<Grantee, String>> {
    let username = match ChtUsername::parse(username) {
        Ok(username) => username,
        Err(message) => return Ok(Err(message)),
    };
    let Some(instance_id) = instance.trim().parse::<InstanceId>().ok() else {
        return Ok(Err("Choose the CHT instance of that username.".to_owned()));
    };
    if !allowed(state, tenant).await?.contains(&instance_id) {
        return Ok(Err(
            "That CHT instance does not allow sign-in with a CHT account; allow it on the tenant's sign-in settings first."
                .to_owned(),
        ));
    }
    Ok(Ok(Grantee::ChtUser {
        instance_id,
        username,
        display_name: display_name.trim().chars().take(120).collect(),
    }))
}

/// For each of `people` bound to a CHT username on an instance of `tenant` that allows
/// CHT-account sign-in: that instance's name (how they get in, for the access page).
pub(super) async fn accounts(
    state: &AppState,
    tenant: TenantId,
    people: &[portal_domain::UserId],
) -> AppResult<std::collections::HashMap<portal_domain::UserId, String>> {
    let allowed = allowed(state, tenant).await?;
    if allowed.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let names: std::collections::HashMap<InstanceId, String> =
        portal_store::instances::list_for_tenant(&state.db, tenant)
            .await?
            .into_iter()
            .map(|i| (i.id, i.name))
            .collect();
    Ok(cht_identities::identities_of(&state.db, people)
        .await?
        .into_iter()
        .filter(|(_, instance, _)| allowed.contains(instance))
        .filter_map(|(user, instance, _)| Some((user, names.get(&instance)?.clone())))
        .collect())
}

/// How a person's address is shown: a person given access by CHT username has only a
/// placeholder address, so their CHT username is shown instead.
pub(super) fn shown_address(email: &str) -> String {
    cht_identities::username_of_placeholder(email).map_or_else(
        || email.to_owned(),
        |username| format!("CHT username {username}"),
    )
}
