//! Contacts: create and cursor-paginated list.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use common::subscription::Quota;
use common::{AccountId, ContactId, PhoneNumber};
use db::contacts::Contact;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::paging::{ListParams, ListQuery, ListSpec, Page};
use super::{ApiJson, ApiResult, Envelope, Routes, created};
use crate::error::ApiError;
use crate::permissions::{Allowed, perm};
use crate::state::AppState;

pub fn routes(cfg: &mut Routes) {
    cfg.service(create).service(list);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContact {
    /// As people type it (`+55 (11) 99999-9999`); stored as E.164 digits.
    phone: String,
    #[serde(default)]
    name: String,
    /// Extra template variables, e.g. `{"city": "Recife"}`.
    #[serde(default)]
    #[schema(value_type = Object, additional_properties)]
    fields: Map<String, Value>,
}

/// A contact as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    id: ContactId,
    account_id: AccountId,
    /// E.164 digits, without `+`.
    phone: String,
    name: String,
    /// Extra template variables: text, numbers or booleans.
    #[schema(value_type = Object)]
    fields: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            account_id: c.account_id,
            phone: c.phone,
            name: c.name,
            fields: c.fields,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

const MAX_FIELDS: usize = 50;

/// Creates a contact (counts against the `max_contacts` quota).
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.write"))),
    tag = "contacts",
    request_body = CreateContact,
    responses((status = 201, description = "The contact", body = Envelope<ContactView>)),
)]
#[post("/contacts")]
pub async fn create(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsWrite>,
    body: ApiJson<CreateContact>,
) -> ApiResult {
    let account_id = user.account_id()?;
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
    let admission = crate::quotas::admit(&state, &user, Quota::MaxContacts).await?;
    let contact = db::contacts::create(
        user.scope(admission.txn()),
        db::contacts::NewContact {
            account_id,
            phone,
            name: body.name.trim().to_owned(),
            fields: body.fields,
        },
    )
    .await?;
    admission.commit().await?;
    Ok(created(ContactView::from(contact)))
}

pub const CONTACTS: ListSpec = ListSpec {
    name: "contacts",
    fields: &[
        "id",
        "accountId",
        "phone",
        "name",
        "fields",
        "createdAt",
        "updatedAt",
    ],
    default_fields: &["id", "phone", "name"],
};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContactsFilter {
    /// Search: only contacts whose name holds this text (ignoring case) or whose phone holds
    /// its digits; at most 100 characters.
    q: Option<String>,
}

/// The tenant's contacts, oldest first; `nextCursor` fetches the next page.
#[utoipa::path(
    extensions(("x-permission" = json!("contacts.read"))),
    tag = "contacts",
    params(ContactsFilter, ListParams),
    responses((status = 200, description = "A page of contacts", body = Page<ContactView>)),
)]
#[get("/contacts")]
pub async fn list(
    state: web::Data<AppState>,
    user: Allowed<perm::ContactsRead>,
    query: ListQuery<ContactsFilter>,
) -> ApiResult {
    let search = match query.filter.q.as_deref() {
        Some(q) if q.chars().count() > 100 => {
            return Err(super::invalid_parameter(
                "q",
                "`q` must be at most 100 characters",
            ));
        }
        Some(q) if q.contains('\0') => {
            return Err(super::invalid_parameter("q", "`q` must not hold NUL"));
        }
        Some(q) => db::contacts::ContactSearch::new(q),
        None => None,
    };
    let page = query.page(&CONTACTS)?;
    let (rows, more) = db::contacts::page(
        user.scope(&state.db),
        search.as_ref(),
        page.after(),
        page.limit(),
    )
    .await?;
    let views: Vec<ContactView> = rows.into_iter().map(ContactView::from).collect();
    page.respond(views, more, |c| c.id.into_uuid())
}
