//! One case per route: what it should demand, the well-formed body it is sent, and the exact
//! status an allowed request gets. Allowed requests are chosen to leave the world as it was
//! (revoking a revoked grant, saving what is already saved, deleting what is still in use), so
//! every request of the matrix meets the same world. Order matters only at the end: signing out
//! ends the session of whoever asks.

use portal_domain::Permission::{Grant, ManageConfig, ManageInstances, Stage};
use reqwest::{Method, StatusCode};

use super::expect::Position;
use super::fixture::{CONTACT_TYPE, Fixture};

/// What the test expects a route to demand, stated without looking at the portal's rules.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    Public,
    SignedIn,
    PlatformAdmin,
    /// Any grant in the tenant.
    Member,
    /// `Some(permission)` or any permission, on the whole tenant.
    OnTenant(Option<portal_domain::Permission>),
    /// On the instance as a whole.
    OnInstance(Option<portal_domain::Permission>),
    /// Somewhere in the instance (the instance or any place in it).
    InInstance(Option<portal_domain::Permission>),
    /// On the place.
    OnPlace(Option<portal_domain::Permission>),
    /// On a staged batch: the permission somewhere in the instance, then over the batch's area.
    Batch(Option<portal_domain::Permission>),
    /// `grant` anywhere in the tenant.
    ManagesAccess,
    /// Giving or revoking the M&E officer role at the position's place: a member of the tenant,
    /// holding `grant` and every permission of that role there.
    GrantsAt,
}

pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Upload {
        file: (String, Vec<u8>),
        fields: Vec<(String, String)>,
    },
}

pub struct Case {
    pub expect: Expect,
    /// The status of an allowed request.
    pub ok: StatusCode,
    pub body: fn(&Fixture, Position) -> Body,
    pub public: bool,
    /// A public route that answers a signed-out person differently.
    pub anonymous_ok: Option<StatusCode>,
    /// A signed-in route that answers someone with no access anywhere differently.
    pub no_access_ok: Option<StatusCode>,
    /// The refusal of an object that is not the path's own (another tenant's or instance's id).
    pub foreign: StatusCode,
}

fn form(fields: &[(&str, &str)]) -> Body {
    Body::Form(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

const OK: StatusCode = StatusCode::OK;
const SEE_OTHER: StatusCode = StatusCode::SEE_OTHER;
const CONFLICT: StatusCode = StatusCode::CONFLICT;
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn none(_: &Fixture, _: Position) -> Body {
    Body::None
}

fn tenant_fields(f: &Fixture, p: Position) -> Body {
    if f.tenant(p) == f.world.b {
        form(&[("slug", "ug"), ("name", "Uganda")])
    } else {
        form(&[("slug", "ke"), ("name", "Kenya")])
    }
}

fn instance_fields(f: &Fixture, p: Position) -> Body {
    let name = match p {
        Position::Outside => "Mombasa",
        Position::OtherTenant => "Kampala",
        _ => "Nairobi",
    };
    let _ = f;
    form(&[
        ("name", name),
        ("base_url", "http://127.0.0.1:9"),
        ("service_username", "portal"),
        ("service_password", ""),
    ])
}

fn grant_fields(f: &Fixture, p: Position) -> Body {
    Body::Form(vec![
        ("email".into(), "matrix.invitee@health.go.ke".into()),
        ("display_name".into(), "Matrix Invitee".into()),
        ("role".into(), "me_officer".into()),
        ("scope".into(), f.grant_scope(p)),
        ("expires_on".into(), String::new()),
    ])
}

fn new_password(_: &Fixture, _: Position) -> Body {
    form(&[
        ("new_password", "a new long passphrase 42"),
        ("confirm_password", "a new long passphrase 42"),
    ])
}

fn config_document(f: &Fixture, _: Position) -> Body {
    Body::Form(vec![("document".into(), f.kenya_config.clone())])
}

fn config_upload(f: &Fixture, _: Position) -> Body {
    Body::Upload {
        file: ("config.json".into(), f.kenya_config.clone().into_bytes()),
        fields: vec![],
    }
}

/// The cells of a CHP area row of the Kenya config, in column order.
const ROW: [&str; 6] = ["", "Westlands", "", "Mary Wanjiku", "0712345678", ""];

fn row_cells(_: &Fixture, _: Position) -> Body {
    let mut fields = vec![("contact_type".to_owned(), CONTACT_TYPE.to_owned())];
    fields.extend(ROW.iter().map(|c| ("cell".to_owned(), (*c).to_owned())));
    Body::Form(fields)
}

fn csv_upload(_: &Fixture, _: Position) -> Body {
    let csv = "CHU,Sub County,County,CHP Name,CHP Phone,CHP Email\n,Westlands,,Mary Wanjiku,0712345678,\n";
    Body::Upload {
        file: ("chps.csv".into(), csv.as_bytes().to_vec()),
        fields: vec![("contact_type".into(), CONTACT_TYPE.into())],
    }
}

fn contact_type(_: &Fixture, _: Position) -> Body {
    form(&[("contact_type", CONTACT_TYPE)])
}

fn case(expect: Expect, ok: StatusCode, body: fn(&Fixture, Position) -> Body) -> Case {
    Case {
        expect,
        ok,
        body,
        public: matches!(expect, Expect::Public),
        anonymous_ok: None,
        no_access_ok: None,
        foreign: StatusCode::NOT_FOUND,
    }
}

/// Every case, in the order the matrix sends them.
pub fn cases() -> Vec<(Method, &'static str, Case)> {
    use Expect::{
        Batch, GrantsAt, InInstance, ManagesAccess, Member, OnInstance, OnPlace, OnTenant,
        PlatformAdmin, Public, SignedIn,
    };
    let (get, post) = (Method::GET, Method::POST);
    let stage = Batch(Some(Stage));
    vec![
        // Home sends anyone with a tenant on to the tenant list.
        (
            get.clone(),
            "/",
            Case {
                no_access_ok: Some(OK),
                ..case(SignedIn, SEE_OTHER, none)
            },
        ),
        // Signed in already: on to the start page.
        (
            get.clone(),
            "/login",
            Case {
                anonymous_ok: Some(OK),
                ..case(Public, SEE_OTHER, none)
            },
        ),
        (
            post.clone(),
            "/login",
            case(Public, StatusCode::UNAUTHORIZED, |_, _| {
                form(&[
                    ("email", "stranger@health.go.ke"),
                    ("password", "not the password"),
                ])
            }),
        ),
        (
            get.clone(),
            "/login/oidc/callback",
            case(Public, StatusCode::BAD_REQUEST, none),
        ),
        (
            get.clone(),
            "/login/oidc/{provider_id}",
            case(Public, StatusCode::BAD_GATEWAY, none),
        ),
        (get.clone(), "/account/password", case(SignedIn, OK, none)),
        (
            post.clone(),
            "/account/password",
            case(SignedIn, UNPROCESSABLE, |_, _| {
                form(&[
                    ("current_password", "not the password"),
                    ("new_password", "a new long passphrase 42"),
                    ("confirm_password", "a new long passphrase 42"),
                ])
            }),
        ),
        (get.clone(), "/tenants", case(SignedIn, OK, none)),
        // Creating a tenant under a short name already taken: refused after the check.
        (
            post.clone(),
            "/tenants",
            case(PlatformAdmin, CONFLICT, tenant_fields),
        ),
        (get.clone(), "/tenants/{tenant_id}", case(Member, OK, none)),
        (
            post.clone(),
            "/tenants/{tenant_id}",
            case(PlatformAdmin, SEE_OTHER, tenant_fields),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/access",
            case(Member, OK, none),
        ),
        // A scope from another tenant is a form error, not a page that does not exist.
        (
            post.clone(),
            "/tenants/{tenant_id}/access",
            Case {
                foreign: UNPROCESSABLE,
                ..case(GrantsAt, SEE_OTHER, grant_fields)
            },
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/access/people",
            case(ManagesAccess, OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/access/{grant_id}/revoke",
            case(GrantsAt, CONFLICT, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/roles",
            case(OnTenant(Some(Grant)), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/roles",
            case(OnTenant(Some(Grant)), SEE_OTHER, |_, _| {
                form(&[
                    ("key", "held_role"),
                    ("name", "Held"),
                    ("permission", "view_audit"),
                ])
            }),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/roles/{role_key}/delete",
            case(OnTenant(Some(Grant)), CONFLICT, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/sign-in",
            case(OnTenant(Some(ManageConfig)), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/sign-in",
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, |_, _| {
                form(&[
                    ("display_name", "Kenya MoH"),
                    ("issuer_url", "http://127.0.0.1:9"),
                    ("client_id", "portal"),
                    ("client_secret", "secret"),
                    ("enabled", "on"),
                ])
            }),
        ),
        // Part B of issue 10: the second factor. Without a pending sign-in, the second step
        // sends everyone back to the sign-in page.
        (
            get.clone(),
            "/login/second-factor",
            case(Public, SEE_OTHER, none),
        ),
        (
            post.clone(),
            "/login/second-factor",
            case(Public, SEE_OTHER, |_, _| form(&[("code", "123456")])),
        ),
        (
            get.clone(),
            "/account/second-factor",
            case(SignedIn, OK, none),
        ),
        // Not a code at all: the enrolment is refused after the check.
        (
            post.clone(),
            "/account/second-factor",
            case(SignedIn, UNPROCESSABLE, |_, _| {
                form(&[("code", "not a code")])
            }),
        ),
        // Nobody in the matrix has a second factor: back to the page.
        (
            post.clone(),
            "/account/second-factor/remove",
            case(SignedIn, SEE_OTHER, |_, _| {
                form(&[("password", "not the password"), ("code", "123456")])
            }),
        ),
        // Not required before, not required after: nothing changes.
        (
            post.clone(),
            "/tenants/{tenant_id}/sign-in/second-factor",
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, none),
        ),
        // Part C of issue 10: sign-in with a CHT account. Signed in already: on to the start
        // page. An instance that does not allow it is refused (the same to everyone) before
        // CHT is asked; saving "no instance" where none is allowed changes nothing.
        (
            get.clone(),
            "/login/cht",
            Case {
                anonymous_ok: Some(OK),
                ..case(Public, SEE_OTHER, none)
            },
        ),
        (
            post.clone(),
            "/login/cht",
            case(Public, StatusCode::UNAUTHORIZED, |_, _| {
                form(&[
                    ("instance", "0190a000-0000-7000-8000-000000000000"),
                    ("username", "chv_nobody"),
                    ("password", "not the password"),
                ])
            }),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/sign-in/cht-accounts",
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, none),
        ),
        // An instance under a name already taken in the tenant: refused after the check.
        (
            post.clone(),
            "/tenants/{tenant_id}/instances",
            case(
                OnTenant(Some(ManageInstances)),
                UNPROCESSABLE,
                instance_fields,
            ),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/new",
            case(OnTenant(Some(ManageInstances)), OK, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}",
            case(InInstance(None), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}",
            case(
                OnInstance(Some(ManageInstances)),
                SEE_OTHER,
                instance_fields,
            ),
        ),
        // The confirmation names another instance: refused after the check, nothing deleted.
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/delete",
            case(OnInstance(Some(ManageInstances)), UNPROCESSABLE, |_, _| {
                form(&[("confirm_name", "not this one")])
            }),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/test",
            case(OnInstance(Some(ManageInstances)), OK, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/places",
            case(InInstance(None), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/places/refresh",
            // Nothing answers at the instance's address.
            case(OnInstance(Some(Stage)), StatusCode::BAD_GATEWAY, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/places/search",
            case(InInstance(None), OK, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/places/{place_id}",
            case(OnPlace(None), OK, none),
        ),
        (
            get.clone(),
            "/api/v1/tenants/{tenant_id}/instances/{instance_id}/places",
            case(InInstance(None), OK, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/config",
            case(OnTenant(Some(ManageConfig)), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/config",
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, config_document),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/config/upload",
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, config_upload),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/config/preview",
            case(OnTenant(Some(ManageConfig)), OK, config_document),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/config/import-domains",
            // Importing an instance already imported leaves it as it is.
            case(OnTenant(Some(ManageConfig)), SEE_OTHER, |_, _| {
                form(&[
                    ("domain", "Migori"),
                    ("service_username", "portal"),
                    ("service_password", "service-password-123"),
                ])
            }),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging",
            case(InInstance(Some(Stage)), OK, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/template/{contact_type}",
            case(InInstance(Some(Stage)), OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/upload",
            case(InInstance(Some(Stage)), SEE_OTHER, csv_upload),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/new-row",
            case(InInstance(Some(Stage)), SEE_OTHER, row_cells),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/refresh",
            case(
                OnInstance(Some(Stage)),
                StatusCode::BAD_GATEWAY,
                contact_type,
            ),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}",
            case(stage, OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows",
            case(stage, SEE_OTHER, row_cells),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}",
            case(stage, SEE_OTHER, row_cells),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/edit",
            case(stage, OK, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/acknowledge",
            case(stage, SEE_OTHER, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/rows/{row}/remove",
            case(stage, UNPROCESSABLE, none),
        ),
        (
            post.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/revalidate",
            case(stage, SEE_OTHER, none),
        ),
        (
            get.clone(),
            "/tenants/{tenant_id}/instances/{instance_id}/staging/{batch_id}/invalid.csv",
            case(stage, OK, none),
        ),
        // Part A of issue 10: sign-in links. An unknown link is refused the same to everyone.
        (
            get.clone(),
            "/invite/{token}",
            case(Public, StatusCode::NOT_FOUND, none),
        ),
        (
            post.clone(),
            "/invite/{token}",
            case(Public, StatusCode::NOT_FOUND, new_password),
        ),
        (
            get.clone(),
            "/reset-password/{token}",
            case(Public, StatusCode::NOT_FOUND, none),
        ),
        (
            post.clone(),
            "/reset-password/{token}",
            case(Public, StatusCode::NOT_FOUND, new_password),
        ),
        (get.clone(), "/forgot-password", case(Public, OK, none)),
        // No SMTP in the matrix: the page says to ask an administrator, for any address.
        (
            post.clone(),
            "/forgot-password",
            case(Public, OK, |_, _| {
                form(&[("email", "stranger@health.go.ke")])
            }),
        ),
        // A person who does not exist: every member may ask, and is told so.
        (
            post.clone(),
            "/tenants/{tenant_id}/access/people/{user_id}/link",
            case(Member, StatusCode::NOT_FOUND, none),
        ),
        (get.clone(), "/healthz", case(Public, OK, none)),
        (get.clone(), "/readyz", case(Public, OK, none)),
        (
            get.clone(),
            "/assets/{version}/{name}",
            case(Public, OK, none),
        ),
        // A tenant that still has instances is not deleted: refused after the check.
        (
            post.clone(),
            "/tenants/{tenant_id}/delete",
            case(PlatformAdmin, CONFLICT, none),
        ),
        // Last: it ends the session of whoever asks.
        (post, "/logout", case(Public, SEE_OTHER, none)),
    ]
}

pub fn case_for(method: &Method, path: &str) -> Option<Case> {
    cases()
        .into_iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, case)| case)
}
