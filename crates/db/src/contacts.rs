//! Contacts: who campaigns message.

use chrono::{DateTime, Utc};
use common::sql;
use common::{AccountId, ContactId, PhoneNumber};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, SqlErr,
    TransactionSession, TransactionTrait,
};

use crate::entity::contact;
use crate::{DbError, DbResult, TenantScope};

/// A contact of a tenant.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    /// E.164 digits, without `+`.
    pub phone: String,
    pub name: String,
    /// Template fields: text, numbers and booleans by name.
    pub fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<contact::Model> for Contact {
    fn from(m: contact::Model) -> Self {
        Self {
            id: m.id.into(),
            account_id: m.account_id.into(),
            phone: m.phone,
            name: m.name,
            fields: m.fields,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub struct NewContact {
    pub account_id: AccountId,
    pub phone: PhoneNumber,
    pub name: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

pub async fn create(
    scope: TenantScope<'_, impl ConnectionTrait>,
    new: NewContact,
) -> DbResult<Contact> {
    let now = Utc::now();
    let model = contact::ActiveModel {
        id: Set(ContactId::new().into()),
        tenant_id: Set(scope.tenant_uuid()),
        account_id: Set(new.account_id.into()),
        phone: Set(new.phone.digits().to_owned()),
        name: Set(new.name),
        fields: Set(serde_json::Value::Object(new.fields)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(scope.conn())
    .await
    .map_err(|e| {
        DbError::conflict_on_unique(e, format!("a contact with phone {} exists", new.phone))
    })?;
    Ok(model.into())
}

/// One page of a tenant's contacts in id (creation) order, after `cursor`. Returns up to
/// `limit` contacts and whether more follow.
pub async fn page(
    scope: TenantScope<'_, impl ConnectionTrait>,
    search: Option<&ContactSearch>,
    cursor: Option<ContactId>,
    limit: u64,
) -> DbResult<(Vec<Contact>, bool)> {
    let mut select =
        contact::Entity::find().filter(contact::Column::TenantId.eq(scope.tenant_uuid()));
    if let Some(search) = search {
        select = select.filter(search.condition());
    }
    let (rows, more) = crate::page_by_id(
        scope.conn(),
        select,
        contact::Column::Id,
        cursor.map(ContactId::into_uuid),
        limit,
    )
    .await?;
    Ok((rows.into_iter().map(Contact::from).collect(), more))
}

/// What a contact list is narrowed to: contacts whose name holds the words (ignoring case), or
/// whose phone holds the digits, of a search box's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSearch {
    text: String,
    digits: String,
}

impl ContactSearch {
    /// `None` for text that is blank once trimmed: no narrowing.
    pub fn new(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(Self {
            text: text.to_owned(),
            digits: text.chars().filter(char::is_ascii_digit).collect(),
        })
    }

    fn condition(&self) -> sea_orm::sea_query::Expr {
        let name = format!("%{}%", like_escaped(&self.text));
        if self.digits.is_empty() {
            sea_orm::sea_query::Expr::cust_with_values("name ILIKE $1", [name])
        } else {
            let phone = format!("%{}%", self.digits);
            sea_orm::sea_query::Expr::cust_with_values(
                "(name ILIKE $1 OR phone LIKE $2)",
                [name, phone],
            )
        }
    }
}

/// `text` with LIKE's wildcards and its escape character taken literally.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One contact of a batch write (an import): phone already normalised to E.164 digits.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub phone: String,
    /// Empty: a new contact gets no name, an existing one keeps its own.
    pub name: String,
    /// Merged into an existing contact's fields (the row's win).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What a batch write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchWritten {
    pub inserted: i64,
    pub updated: i64,
    /// Some phone was already a contact, so [`BatchStrategy::InsertFirst`] was rolled back and
    /// the batch upserted: the file's later batches had better upsert from the start.
    pub collided: bool,
}

/// How [`upsert_batch`] writes a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStrategy {
    /// A plain `INSERT` first, in a savepoint; if a phone is already a contact, it is rolled
    /// back and the batch written as [`BatchStrategy::Upsert`]. When every phone is new (a first
    /// import), a plain insert costs about 30% less than `INSERT ... ON CONFLICT`, which
    /// writes and then confirms each row as a speculative insertion.
    InsertFirst,
    /// `INSERT ... ON CONFLICT` at once: right when many phones are already contacts.
    Upsert,
}

/// Of `phones` (E.164 digits), those already contacts of the account.
pub async fn existing_phones(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    phones: &[String],
) -> DbResult<std::collections::HashSet<String>> {
    let rows = scope
        .conn()
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            sql!(
                "SELECT phone FROM contacts
              WHERE tenant_id = $1 AND account_id = $2 AND phone = ANY($3::text[])"
            ),
            [
                scope.tenant_uuid().into(),
                account_id.into_uuid().into(),
                phones.to_vec().into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String>("", "phone")?))
        .collect()
}

/// Writes `rows` (distinct phones): new phones become contacts; existing ones are updated when
/// `update` (name if given, fields merged) and left alone otherwise. Run it in a transaction
/// (`InsertFirst` takes a savepoint in it).
pub async fn upsert_batch<C: ConnectionTrait + TransactionTrait>(
    scope: TenantScope<'_, C>,
    account_id: AccountId,
    rows: &[ContactRow],
    update: bool,
    strategy: BatchStrategy,
) -> DbResult<BatchWritten> {
    if rows.is_empty() {
        return Ok(BatchWritten::default());
    }
    if strategy == BatchStrategy::InsertFirst {
        let savepoint = scope.conn().begin().await?;
        match insert_new(scope.on(&savepoint), account_id, rows).await {
            Ok(inserted) => {
                savepoint.commit().await?;
                return Ok(BatchWritten {
                    inserted,
                    ..BatchWritten::default()
                });
            }
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                savepoint.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let written = upsert(scope, account_id, rows, update).await?;
    Ok(BatchWritten {
        collided: strategy == BatchStrategy::InsertFirst,
        ..written
    })
}

/// The parameters of [`BATCH_ROWS`]: `$1` tenant, `$2` account, then one array per column, with
/// a new id per row.
fn batch_values(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    rows: &[ContactRow],
) -> Vec<sea_orm::Value> {
    let ids: Vec<uuid::Uuid> = rows.iter().map(|_| ContactId::new().into_uuid()).collect();
    let phones: Vec<String> = rows.iter().map(|r| r.phone.clone()).collect();
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    // As JSON text, cast to jsonb by the statement.
    let fields: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.fields).expect("a JSON map serialises"))
        .collect();
    vec![
        scope.tenant_uuid().into(),
        account_id.into_uuid().into(),
        ids.into(),
        phones.into(),
        names.into(),
        fields.into(),
    ]
}

const BATCH_ROWS: &str = "SELECT id, $1, $2, phone, name, fields::jsonb
       FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS r(id, phone, name, fields)";

/// Inserts every row as a new contact; fails on the first phone that is already one.
async fn insert_new(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    rows: &[ContactRow],
) -> Result<i64, sea_orm::DbErr> {
    let result = scope
        .conn()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            sql!("INSERT INTO contacts (id, tenant_id, account_id, phone, name, fields) {BATCH_ROWS}", BATCH_ROWS),
            batch_values(scope, account_id, rows),
        ))
        .await?;
    Ok(i64::try_from(result.rows_affected()).unwrap_or(i64::MAX))
}

/// Inserts new phones and updates (or skips) existing ones in one statement.
async fn upsert(
    scope: TenantScope<'_, impl ConnectionTrait>,
    account_id: AccountId,
    rows: &[ContactRow],
    update: bool,
) -> DbResult<BatchWritten> {
    // Two statements, one per conflict action: with `DO NOTHING` an existing phone returns no
    // row, so nothing counts as updated.
    let sql = if update {
        sql!(
            "WITH written AS (
                 INSERT INTO contacts (id, tenant_id, account_id, phone, name, fields)
                 {BATCH_ROWS}
                 ON CONFLICT (tenant_id, account_id, phone)
                 DO UPDATE SET name = CASE WHEN EXCLUDED.name = '' THEN contacts.name ELSE EXCLUDED.name END,
                               fields = contacts.fields || EXCLUDED.fields,
                               updated_at = now()
                 RETURNING (xmax = 0) AS inserted
             )
             SELECT count(*) FILTER (WHERE inserted) AS inserted,
                    count(*) FILTER (WHERE NOT inserted) AS updated
               FROM written",
            BATCH_ROWS
        )
    } else {
        sql!(
            "WITH written AS (
                 INSERT INTO contacts (id, tenant_id, account_id, phone, name, fields)
                 {BATCH_ROWS}
                 ON CONFLICT (tenant_id, account_id, phone) DO NOTHING
                 RETURNING (xmax = 0) AS inserted
             )
             SELECT count(*) FILTER (WHERE inserted) AS inserted,
                    count(*) FILTER (WHERE NOT inserted) AS updated
               FROM written",
            BATCH_ROWS
        )
    };
    let row = scope
        .conn()
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            sql,
            batch_values(scope, account_id, rows),
        ))
        .await?
        .ok_or(DbError::NotFound("batch result"))?;
    Ok(BatchWritten {
        inserted: row.try_get("", "inserted")?,
        updated: row.try_get("", "updated")?,
        collided: false,
    })
}
