use sea_orm::{ConnectionTrait, Statement};

use crate::support::*;

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_audit_events() {
    let app = TestApp::signed_in_admin().await;
    let backend = app.db.get_database_backend();
    let before = app.audit_actions().await;
    assert!(!before.is_empty());

    let update = app
        .db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE audit_events SET action = 'forged'",
        ))
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = app
        .db
        .execute_raw(Statement::from_string(backend, "DELETE FROM audit_events"))
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(app.audit_actions().await, before);
}

#[tokio::test]
async fn the_trail_of_a_session_reads_in_order() {
    let app = TestApp::spawn().await;
    app.create_user(ADMIN_EMAIL, ADMIN_PASSWORD, true, false)
        .await;
    app.login(ADMIN_EMAIL, "wrong password").await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = csrf_token(&app.get("/tenants").await.text().await.unwrap()).unwrap();
    app.post_form("/logout", &[("_csrf", &token)]).await;
    assert_eq!(
        app.audit_actions().await,
        [
            "user.created",
            "auth.login_failed",
            "auth.login",
            "auth.logout"
        ]
    );
}
