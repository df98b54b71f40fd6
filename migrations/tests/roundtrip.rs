//! The schema applies to an empty database, rolls back cleanly and applies again.

use migration::{Migrator, MigratorTrait, ensure_database};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn tables(db: &impl ConnectionTrait) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'seaql_migrations' ORDER BY 1",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "tablename").unwrap())
        .collect()
}

#[tokio::test]
async fn migrations_apply_roll_back_and_apply_again() {
    let server = server_url();
    let (base, _) = server.rsplit_once('/').unwrap();
    let name = format!("test_migrate_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{base}/{name}");

    assert!(ensure_database(&url).await.unwrap(), "created");
    assert!(!ensure_database(&url).await.unwrap(), "idempotent");

    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let expected = [
        "account_agents",
        "account_roles",
        "account_team_members",
        "account_teams",
        "accounts",
        "api_keys",
        "campaign_recipients",
        "campaigns",
        "consent_keywords",
        "contact_import_errors",
        "contact_imports",
        "contacts",
        "events",
        "inbound_events",
        "inbox_conversations",
        "inbox_send_slots",
        "inboxes",
        "invitations",
        "jobs",
        "notifications",
        "opt_outs",
        "outbox",
        "push_deliveries",
        "push_subscriptions",
        "reports",
        "sessions",
        "stripe_checkout_sessions",
        "stripe_events",
        "stripe_invoices",
        "stripe_settings",
        "stripe_subscriptions",
        "subscription_plans",
        "tenant_branding",
        "tenant_storage",
        "tenants",
        "user_plan_overrides",
        "user_subscriptions",
        "users",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_endpoints",
        "workers",
    ];
    assert_eq!(tables(&db).await, expected);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::down(&db, None).await.unwrap();
    assert!(tables(&db).await.is_empty(), "down removes everything");
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables(&db).await, expected);
    db.close().await.unwrap();

    assert!(
        ensure_database(&format!("{base}/bad-name;drop"))
            .await
            .is_err(),
        "names are checked"
    );

    let admin = Database::connect(&server).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}
