//! Contacts: create and cursor-paginated list.

use actix_web::web;
use common::{ContactId, PhoneNumber};
use db::contacts::Contact;
use db::plans::Quota;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::inboxes::account_of;
use super::{ApiJson, ApiResult, created};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContact {
    phone: String,
    #[serde(default)]
    name: String,
    /// Extra template variables, e.g. `{"city": "Recife"}`.
    #[serde(default)]
    fields: Map<String, Value>,
}

const MAX_FIELDS: usize = 50;

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CreateContact>,
) -> ApiResult {
    // Superadmins have no tenant: refused before the body is looked at.
    caller.tenant_id()?;
    let account_id = account_of(&caller)?;
    let body = body.into_inner();
    let phone = PhoneNumber::parse(&body.phone)
        .map_err(|e| ApiError::validation("phone", e.to_string()))?;
    if body.name.chars().count() > 200 {
        return Err(ApiError::validation(
            "name",
            "`name` must be at most 200 characters",
        ));
    }
    if body.fields.len() > MAX_FIELDS {
        return Err(ApiError::validation(
            "fields",
            format!("at most {MAX_FIELDS} fields per contact"),
        ));
    }
    if let Some((key, _)) = body
        .fields
        .iter()
        .find(|(_, v)| v.is_object() || v.is_array())
    {
        return Err(ApiError::validation(
            "fields",
            format!("field `{key}` must be text, a number or a boolean"),
        ));
    }
    let admission = crate::quotas::admit(&state, &caller, Quota::MaxContacts).await?;
    let contact = db::contacts::create(
        caller.scope(admission.txn())?,
        db::contacts::NewContact {
            account_id,
            phone,
            name: body.name.trim().to_owned(),
            fields: body.fields,
        },
    )
    .await?;
    admission.commit().await?;
    Ok(created(view(&contact, ALL_FIELDS)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u64>,
    cursor: Option<ContactId>,
    /// Comma-separated subset of [`ALL_FIELDS`]; default [`DEFAULT_FIELDS`].
    fields: Option<String>,
}

const ALL_FIELDS: &[&str] = &[
    "id",
    "accountId",
    "phone",
    "name",
    "fields",
    "createdAt",
    "updatedAt",
];
const DEFAULT_FIELDS: &[&str] = &["id", "phone", "name"];

/// `GET /api/contacts?limit=&cursor=&fields=`: oldest first; `nextCursor` fetches the next page.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult {
    let query = query.into_inner();
    let limit = super::page_limit(query.limit)?;
    let fields: Vec<&str> = match &query.fields {
        None => DEFAULT_FIELDS.to_vec(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let known = ALL_FIELDS.iter().find(|f| **f == name).ok_or_else(|| {
                    ApiError::new(
                        common::ErrorCode::InvalidParameter,
                        format!(
                            "unknown field `{name}`; choose from {}",
                            ALL_FIELDS.join(", ")
                        ),
                    )
                })?;
                chosen.push(*known);
            }
            chosen
        }
    };
    let (rows, more) = db::contacts::page(caller.scope(&state.db)?, query.cursor, limit).await?;
    let next_cursor = if more {
        rows.last().map(|c| c.id)
    } else {
        None
    };
    let data: Vec<Value> = rows.iter().map(|c| view(c, &fields)).collect();
    Ok(actix_web::HttpResponse::Ok().json(serde_json::json!({
        "success": true,
        "data": data,
        "nextCursor": next_cursor,
    })))
}

fn view(contact: &Contact, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let value = match *field {
            "id" => contact.id.to_string().into(),
            "accountId" => contact.account_id.to_string().into(),
            "phone" => contact.phone.clone().into(),
            "name" => contact.name.clone().into(),
            "fields" => contact.fields.clone(),
            "createdAt" => contact.created_at.to_rfc3339().into(),
            "updatedAt" => contact.updated_at.to_rfc3339().into(),
            _ => continue,
        };
        out.insert((*field).to_owned(), value);
    }
    Value::Object(out)
}
