//! Contacts written in batches (`db::contacts::upsert_batch`, the import's write) and the rules a
//! contact's owner keeps without a per-row foreign key (migration 18): a contact's account is an
//! account of its tenant, a contact never changes owner, and an account's or tenant's deletion
//! takes its contacts along, also while an insert is in flight.

use std::time::Duration;

use common::{AccountId, Plan, TenantId};
use db::contacts::{BatchStrategy, BatchWritten, ContactRow};
use db::{DatabaseConnection, PlatformScope, TenantScope};
use sea_orm::{ConnectionTrait, TransactionTrait};

struct Owners {
    _database: testkit::TestDatabase,
    db: DatabaseConnection,
    /// Tenant A with two accounts, tenant B with one.
    a: TenantId,
    a1: AccountId,
    a2: AccountId,
    b: TenantId,
    b1: AccountId,
}

async fn owners() -> Owners {
    let database = testkit::TestDatabase::create().await.unwrap();
    let db = db::connect(&database.url, 4).await.unwrap();
    let tenant = async |slug: &str| {
        let (tenant, account) = db::tenants::create_tenant(
            PlatformScope::new(&db),
            db::tenants::NewTenant {
                name: slug.into(),
                slug: slug.into(),
                plan: Plan::Free,
            },
        )
        .await
        .unwrap();
        (tenant.id, account.id)
    };
    let (a, a1) = tenant("tenant-a").await;
    let (b, b1) = tenant("tenant-b").await;
    let a2 = AccountId::new();
    db.execute_unprepared(&format!(
        "INSERT INTO accounts (id, tenant_id, name) VALUES ('{a2}', '{a}', 'second')"
    ))
    .await
    .unwrap();
    Owners {
        _database: database,
        db,
        a,
        a1,
        a2,
        b,
        b1,
    }
}

fn rows(phones: std::ops::Range<u64>, name: &str) -> Vec<ContactRow> {
    phones
        .map(|n| ContactRow {
            phone: format!("55119{n:08}"),
            name: name.to_owned(),
            fields: serde_json::Map::from_iter([("n".to_owned(), n.into())]),
        })
        .collect()
}

/// Writes a batch in a transaction of its own.
async fn write(
    db: &DatabaseConnection,
    tenant: TenantId,
    account: AccountId,
    rows: &[ContactRow],
    update: bool,
    strategy: BatchStrategy,
) -> Result<BatchWritten, db::DbError> {
    let txn = db.begin().await?;
    let written = db::contacts::upsert_batch(
        TenantScope::for_test(&txn, tenant),
        account,
        rows,
        update,
        strategy,
    )
    .await?;
    txn.commit().await?;
    Ok(written)
}

/// Waits until a statement of this database waits for a lock another transaction holds:
/// `what` has reached the row it must wait for (not merely not started yet).
async fn blocked_on_a_lock(db: &DatabaseConnection, what: &str) {
    system_tests::eventually(
        &format!("{what} waiting on a lock"),
        Duration::from_secs(10),
        async || {
            let waiting: i64 = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity
                      WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no row")?
                .try_get("", "n")
                .map_err(|e| e.to_string())?;
            if waiting > 0 {
                Ok(())
            } else {
                Err("no statement waits on a lock".to_owned())
            }
        },
    )
    .await;
}

async fn count(db: &DatabaseConnection, filter: &str) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!("SELECT count(*) AS n FROM contacts WHERE {filter}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

#[tokio::test]
async fn a_batch_is_inserted_first_and_upserted_when_it_meets_existing_contacts() {
    let o = owners().await;
    let first = write(
        &o.db,
        o.a,
        o.a1,
        &rows(0..100, "first"),
        true,
        BatchStrategy::InsertFirst,
    )
    .await
    .unwrap();
    assert_eq!(
        first,
        BatchWritten {
            inserted: 100,
            updated: 0,
            collided: false
        }
    );

    // 50 known phones and 50 new: the plain insert is rolled back, the upsert writes all.
    let mixed = write(
        &o.db,
        o.a,
        o.a1,
        &rows(50..150, "second"),
        true,
        BatchStrategy::InsertFirst,
    )
    .await
    .unwrap();
    assert_eq!(
        mixed,
        BatchWritten {
            inserted: 50,
            updated: 50,
            collided: true
        }
    );
    assert_eq!(count(&o.db, "true").await, 150);
    assert_eq!(count(&o.db, "name = 'second'").await, 100);
    // Nothing of the rolled-back insert is left over (no duplicate ids, no half batch).
    assert_eq!(
        count(
            &o.db,
            "phone >= '5511900000050' AND phone < '5511900000100'"
        )
        .await,
        50
    );

    // Skip: existing contacts are left alone, new ones inserted, whatever the strategy.
    for strategy in [BatchStrategy::InsertFirst, BatchStrategy::Upsert] {
        let skipped = write(&o.db, o.a, o.a1, &rows(0..10, "third"), false, strategy)
            .await
            .unwrap();
        assert_eq!((skipped.inserted, skipped.updated), (0, 0), "{strategy:?}");
    }
    assert_eq!(count(&o.db, "name = 'third'").await, 0);

    // The same phones under another account (or tenant) are other contacts.
    let other = write(
        &o.db,
        o.a,
        o.a2,
        &rows(0..10, "a2"),
        true,
        BatchStrategy::InsertFirst,
    )
    .await
    .unwrap();
    assert_eq!((other.inserted, other.collided), (10, false));
    let other = write(
        &o.db,
        o.b,
        o.b1,
        &rows(0..10, "b1"),
        true,
        BatchStrategy::Upsert,
    )
    .await
    .unwrap();
    assert_eq!((other.inserted, other.updated), (10, 0));
}

#[tokio::test]
async fn a_contacts_account_must_be_an_account_of_its_tenant() {
    let o = owners().await;
    // Tenant B writing into tenant A's account, and an account that does not exist: refused,
    // both ways of writing, nothing written.
    for strategy in [BatchStrategy::InsertFirst, BatchStrategy::Upsert] {
        for account in [o.a1, AccountId::new()] {
            let refused = write(&o.db, o.b, account, &rows(0..5, "x"), true, strategy).await;
            let Err(db::DbError::Db(e)) = refused else {
                panic!("{strategy:?} into {account}: {refused:?}");
            };
            assert!(
                matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                ),
                "{e}"
            );
        }
    }
    assert_eq!(count(&o.db, "true").await, 0);

    write(
        &o.db,
        o.a,
        o.a1,
        &rows(0..5, "a1"),
        true,
        BatchStrategy::InsertFirst,
    )
    .await
    .unwrap();
    // A contact never moves to another account or tenant; an account with contacts never
    // changes its key.
    for statement in [
        format!("UPDATE contacts SET account_id = '{}'", o.a2),
        format!(
            "UPDATE contacts SET tenant_id = '{}', account_id = '{}'",
            o.b, o.b1
        ),
        format!(
            "UPDATE accounts SET tenant_id = '{}' WHERE id = '{}'",
            o.b, o.a1
        ),
    ] {
        let refused = o.db.execute_unprepared(&statement).await;
        assert!(refused.is_err(), "{statement}");
    }
    assert_eq!(count(&o.db, &format!("account_id = '{}'", o.a1)).await, 5);
    // The phone's check: 8 to 15 digits, not starting with 0.
    for (phone, accepted) in [
        ("12345678", true),
        ("123456789012345", true),
        ("1234567", false),
        ("1234567890123456", false),
        ("0123456789", false),
        ("12345678x", false),
        ("+12345678", false),
        ("", false),
    ] {
        let inserted =
            o.db.execute_unprepared(&format!(
                "INSERT INTO contacts (id, tenant_id, account_id, phone)
                 VALUES (gen_random_uuid(), '{}', '{}', '{phone}')",
                o.a, o.a2
            ))
            .await;
        assert_eq!(inserted.is_ok(), accepted, "{phone}: {inserted:?}");
    }
}

#[tokio::test]
async fn deleting_an_account_or_tenant_deletes_its_contacts() {
    let o = owners().await;
    for (tenant, account) in [(o.a, o.a1), (o.a, o.a2), (o.b, o.b1)] {
        write(
            &o.db,
            tenant,
            account,
            &rows(0..20, "x"),
            true,
            BatchStrategy::InsertFirst,
        )
        .await
        .unwrap();
    }
    o.db.execute_unprepared(&format!("DELETE FROM accounts WHERE id = '{}'", o.a2))
        .await
        .unwrap();
    assert_eq!(count(&o.db, &format!("account_id = '{}'", o.a2)).await, 0);
    assert_eq!(count(&o.db, &format!("account_id = '{}'", o.a1)).await, 20);
    // A tenant's deletion cascades to its accounts, and from them to their contacts.
    o.db.execute_unprepared(&format!("DELETE FROM tenants WHERE id = '{}'", o.a))
        .await
        .unwrap();
    assert_eq!(count(&o.db, &format!("tenant_id = '{}'", o.a)).await, 0);
    assert_eq!(count(&o.db, &format!("tenant_id = '{}'", o.b)).await, 20);
}

#[tokio::test]
async fn an_account_deleted_while_a_batch_is_written_waits_and_takes_the_batch_along() {
    let o = owners().await;
    let txn = o.db.begin().await.unwrap();
    db::contacts::upsert_batch(
        TenantScope::for_test(&txn, o.a),
        o.a1,
        &rows(0..20, "in flight"),
        true,
        BatchStrategy::InsertFirst,
    )
    .await
    .unwrap();
    // The batch holds the account (FOR KEY SHARE): the delete waits for its transaction.
    let db = o.db.clone();
    let a1 = o.a1;
    let delete = tokio::spawn(async move {
        db.execute_unprepared(&format!("DELETE FROM accounts WHERE id = '{a1}'"))
            .await
            .map(|r| r.rows_affected())
    });
    blocked_on_a_lock(&o.db, "the delete").await;
    assert!(
        !delete.is_finished(),
        "the delete did not wait for the batch"
    );
    txn.commit().await.unwrap();
    assert_eq!(delete.await.unwrap().unwrap(), 1);
    assert_eq!(count(&o.db, "true").await, 0);

    // The other way round: a batch written while its account's deletion is uncommitted waits
    // for it, then fails.
    let txn = o.db.begin().await.unwrap();
    txn.execute_unprepared(&format!("DELETE FROM accounts WHERE id = '{}'", o.a2))
        .await
        .unwrap();
    let db = o.db.clone();
    let (a, a2) = (o.a, o.a2);
    let batch = tokio::spawn(async move {
        write(
            &db,
            a,
            a2,
            &rows(0..20, "late"),
            true,
            BatchStrategy::InsertFirst,
        )
        .await
    });
    blocked_on_a_lock(&o.db, "the batch").await;
    assert!(
        !batch.is_finished(),
        "the batch did not wait for the delete"
    );
    txn.commit().await.unwrap();
    assert!(batch.await.unwrap().is_err());
    assert_eq!(count(&o.db, "true").await, 0);
}
