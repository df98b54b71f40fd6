//! The one way every list endpoint pages: `?limit=&cursor=&fields=` in, [`Page`] out.
//!
//! - `limit`: 1 to [`MAX_LIMIT`] items, [`DEFAULT_LIMIT`] when absent.
//! - `cursor`: the `nextCursor` of the previous page. It is opaque: base64url of a versioned
//!   payload (the last id seen) and an HMAC-SHA256 tag over it, keyed by a key derived from
//!   `SECRETS_KEY` and bound to the list, the caller's tenant (or the platform) and the object
//!   the list belongs to. A cursor that was altered, cut short, made by an older format, or
//!   issued for another list or tenant is refused with 400 naming `cursor`.
//! - `fields`: a comma-separated choice among the list's documented fields; without it, the
//!   list's small default set.
//!
//! Paging is keyset: the next page is the items whose id is greater than the cursor's, in id
//! order (ids are UUIDv7, so creation order), never an OFFSET.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TenantId;
use db::auth::Principal;
use db::secrets::KeySetting;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use uuid::Uuid;

use super::{ApiResult, invalid_parameter};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

/// What a list endpoint offers.
pub struct ListSpec {
    /// Names the list inside its cursors, so a cursor of one list is refused by another.
    pub name: &'static str,
    /// Every field `?fields=` may name: the keys of the list's item as serialised.
    pub fields: &'static [&'static str],
    /// What an item shows when `?fields=` is absent.
    pub default_fields: &'static [&'static str],
}

/// `{"success":true,"data":[...],"nextCursor":...}`: every list's answer. `nextCursor` is
/// `null` on the last page.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    success: bool,
    data: Vec<T>,
    next_cursor: Option<String>,
}

/// The paging parameters every list takes: its OpenAPI description. [`ListQuery`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Describes parameters `ListQuery` parses itself.
pub struct ListParams {
    /// Items per page (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
    /// The `nextCursor` of the previous page; opaque, and only valid for the same list.
    cursor: Option<String>,
    /// Comma-separated names of the fields to return instead of the list's default ones;
    /// unknown names are refused.
    fields: Option<String>,
}

/// An item reduced to the fields the request chose.
pub type Selected = Map<String, Value>;

/// Lists without query parameters of their own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilter {}

/// A list request: the paging parameters as sent, and the list's own query parameters
/// (`F`, which should deny unknown fields). The paging parameters are checked by
/// [`page`](Self::page), which knows the list.
pub struct ListQuery<F = NoFilter> {
    pub filter: F,
    limit: Option<String>,
    cursor: Option<String>,
    fields: Option<String>,
    /// The caller's tenant; `None` for the superadmin, whose lists span the platform.
    tenant: Option<TenantId>,
    key: web::Data<CursorKey>,
}

impl<F: DeserializeOwned> FromRequest for ListQuery<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req))
    }
}

impl<F: DeserializeOwned> ListQuery<F> {
    fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let key = req
            .app_data::<web::Data<CursorKey>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("the cursor key is not configured"))?;
        let mut limit = None;
        let mut cursor = None;
        let mut fields = None;
        let mut rest = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            let slot = match name.as_ref() {
                "limit" => &mut limit,
                "cursor" => &mut cursor,
                "fields" => &mut fields,
                _ => {
                    rest.append_pair(&name, &value);
                    continue;
                }
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(invalid_parameter(
                    &name,
                    format!("`{name}` is given more than once"),
                ));
            }
        }
        let filter = web::Query::<F>::from_query(&rest.finish())
            .map_err(|e| {
                ApiError::new(
                    common::ErrorCode::InvalidParameter,
                    format!(
                        "invalid query parameter: {e} (every list also takes `limit`, `cursor` and `fields`)"
                    ),
                )
            })?
            .into_inner();
        let tenant = req
            .extensions()
            .get::<Principal>()
            .and_then(|principal| principal.tenant)
            .map(|tenant| tenant.id);
        Ok(Self {
            filter,
            limit,
            cursor,
            fields,
            tenant,
            key,
        })
    }
}

impl<F> ListQuery<F> {
    /// The checked request for a list of the caller's tenant (or of the platform).
    pub fn page(&self, spec: &'static ListSpec) -> Result<PageRequest, ApiError> {
        self.page_of(spec, None)
    }

    /// The checked request for a list that belongs to one object (a campaign's recipients, an
    /// account's roles): its cursors are refused on any other object's list.
    pub fn page_within(
        &self,
        spec: &'static ListSpec,
        parent: impl Into<Uuid>,
    ) -> Result<PageRequest, ApiError> {
        self.page_of(spec, Some(parent.into()))
    }

    fn page_of(
        &self,
        spec: &'static ListSpec,
        parent: Option<Uuid>,
    ) -> Result<PageRequest, ApiError> {
        let limit = parse_limit(self.limit.as_deref())?;
        let fields = choose_fields(spec, self.fields.as_deref())?;
        let binding = Binding {
            list: spec.name,
            tenant: self.tenant,
            parent,
        };
        let after = self
            .cursor
            .as_deref()
            .map(|cursor| self.key.open(&binding, cursor))
            .transpose()?;
        Ok(PageRequest {
            limit,
            after,
            fields,
            binding,
            key: self.key.clone(),
        })
    }
}

/// A checked list request: read `limit` items after `after`, then answer with
/// [`respond`](Self::respond).
pub struct PageRequest {
    limit: u64,
    after: Option<Uuid>,
    fields: Vec<&'static str>,
    binding: Binding,
    key: web::Data<CursorKey>,
}

impl PageRequest {
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The id the page starts after; `None` for the first page.
    pub fn after<I: From<Uuid>>(&self) -> Option<I> {
        self.after.map(I::from)
    }

    /// Answers a page read by a keyset query: `rows` (at most `limit`) in id order, `more`
    /// when another page follows, and `id` giving each row's id.
    pub fn respond<T: Serialize>(
        &self,
        rows: Vec<T>,
        more: bool,
        id: impl Fn(&T) -> Uuid,
    ) -> ApiResult {
        let next_cursor = if more {
            rows.last()
                .map(|last| self.key.seal(&self.binding, id(last)))
        } else {
            None
        };
        let data = rows
            .iter()
            .map(|row| select(row, &self.fields))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpResponse::Ok().json(Page {
            success: true,
            data,
            next_cursor,
        }))
    }

    /// Answers a page of a list held whole in memory (a cached list), in id order: the same
    /// pages as a keyset query on the table would give.
    pub fn respond_from_all<T: Serialize>(
        &self,
        all: Vec<T>,
        id: impl Fn(&T) -> Uuid,
    ) -> ApiResult {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let mut rows: Vec<T> = all
            .into_iter()
            .filter(|item| self.after.is_none_or(|after| id(item) > after))
            .take(limit.saturating_add(1))
            .collect();
        let more = rows.len() > limit;
        rows.truncate(limit);
        self.respond(rows, more, id)
    }
}

/// `limit`: a whole number from 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn parse_limit(limit: Option<&str>) -> Result<u64, ApiError> {
    let Some(limit) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    match limit.trim().parse::<u64>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(invalid_parameter(
            "limit",
            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

/// The fields `fields` names (each once), or the list's defaults when absent.
fn choose_fields(
    spec: &'static ListSpec,
    requested: Option<&str>,
) -> Result<Vec<&'static str>, ApiError> {
    let Some(requested) = requested else {
        return Ok(spec.default_fields.to_vec());
    };
    let allowed = || spec.fields.join(", ");
    let mut chosen = Vec::new();
    for name in requested
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let field = spec
            .fields
            .iter()
            .copied()
            .find(|field| *field == name)
            .ok_or_else(|| {
                invalid_parameter(
                    "fields",
                    format!(
                        "unknown field `{name}` in `fields`; choose from {}",
                        allowed()
                    ),
                )
            })?;
        if !chosen.contains(&field) {
            chosen.push(field);
        }
    }
    if chosen.is_empty() {
        return Err(invalid_parameter(
            "fields",
            format!("`fields` must name at least one of {}", allowed()),
        ));
    }
    Ok(chosen)
}

/// `item` with only `fields`.
fn select<T: Serialize>(item: &T, fields: &[&'static str]) -> Result<Selected, ApiError> {
    let Value::Object(mut all) = serde_json::to_value(item).map_err(ApiError::internal)? else {
        return Err(ApiError::internal(
            "a list item did not serialise as an object",
        ));
    };
    let mut chosen = Map::new();
    for field in fields {
        // A documented field the item lacks is a mismatch between the spec and the item type.
        debug_assert!(all.contains_key(*field), "list item has no field `{field}`");
        if let Some(value) = all.remove(*field) {
            chosen.insert((*field).to_owned(), value);
        }
    }
    Ok(chosen)
}

/// What a cursor is valid for: one list, of one tenant (or the platform), within one object.
struct Binding {
    list: &'static str,
    tenant: Option<TenantId>,
    parent: Option<Uuid>,
}

/// The format of the cursor payload; a cursor of any other version is refused.
const CURSOR_VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 16;
/// The HMAC-SHA256 tag, cut to 128 bits: forging one takes 2^128 tries.
const TAG_LEN: usize = 16;

/// The key that signs cursors, derived from `SECRETS_KEY`: every replica with the same key
/// accepts every other replica's cursors.
pub struct CursorKey(Hmac<Sha256>);

impl CursorKey {
    /// A key of its own for cursors (HMAC of a fixed label under the operator's key), so a
    /// cursor tag is never a value computed with the key for any other purpose.
    pub fn derive(secrets_key: &KeySetting) -> Self {
        let secret = match secrets_key {
            KeySetting::Operator(key) => key.expose_secret().trim().to_owned(),
            KeySetting::Development => db::secrets::DEVELOPMENT_KEY_HEX.to_owned(),
        };
        let mut derivation = mac(secret.as_bytes());
        derivation.update(b"wuzapi-manager list cursor key v1");
        Self(mac(&derivation.finalize().into_bytes()))
    }

    fn tag(&self, binding: &Binding, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        // Fixed-width fields after the name, which holds no NUL: no two bindings feed the same
        // bytes.
        mac.update(binding.list.as_bytes());
        mac.update(&[0]);
        match binding.tenant {
            Some(tenant) => {
                mac.update(&[1]);
                mac.update(tenant.into_uuid().as_bytes());
            }
            None => mac.update(&[0]),
        }
        match binding.parent {
            Some(parent) => {
                mac.update(&[1]);
                mac.update(parent.as_bytes());
            }
            None => mac.update(&[0]),
        }
        mac.update(payload);
        mac
    }

    /// The cursor of the page after `last`.
    fn seal(&self, binding: &Binding, last: Uuid) -> String {
        let mut token = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        token.push(CURSOR_VERSION);
        token.extend_from_slice(last.as_bytes());
        let tag = self.tag(binding, &token).finalize().into_bytes();
        token.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The last id of the previous page, when `cursor` is one this key issued for `binding`.
    fn open(&self, binding: &Binding, cursor: &str) -> Result<Uuid, ApiError> {
        let foreign = || {
            invalid_parameter(
                "cursor",
                "`cursor` is not a cursor of this list: pass the `nextCursor` of the previous page unchanged, or leave `cursor` out to start from the beginning",
            )
        };
        let token = URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .map_err(|_| foreign())?;
        if token.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(foreign());
        }
        let (payload, tag) = token.split_at(PAYLOAD_LEN);
        if payload[0] != CURSOR_VERSION {
            return Err(invalid_parameter(
                "cursor",
                "`cursor` was issued in a format this version no longer reads; leave `cursor` out to start from the beginning",
            ));
        }
        self.tag(binding, payload)
            .verify_truncated_left(tag)
            .map_err(|_| foreign())?;
        let id = Uuid::from_slice(&payload[1..]).map_err(|_| foreign())?;
        Ok(id)
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTACTS: ListSpec = ListSpec {
        name: "contacts",
        fields: &["id", "phone", "name", "fields"],
        default_fields: &["id", "phone"],
    };

    fn key() -> CursorKey {
        CursorKey::derive(&KeySetting::Development)
    }

    fn binding(list: &'static str, tenant: Option<TenantId>, parent: Option<Uuid>) -> Binding {
        Binding {
            list,
            tenant,
            parent,
        }
    }

    fn is_cursor_error(result: Result<Uuid, ApiError>) -> bool {
        matches!(result, Err(e) if e.code == common::ErrorCode::InvalidParameter
            && e.field.as_deref() == Some("cursor")
            && e.message.contains("`cursor`"))
    }

    #[test]
    fn a_cursor_opens_only_for_the_list_tenant_and_parent_it_was_issued_for() {
        let key = key();
        let tenant = Some(TenantId::new());
        let parent = Some(Uuid::now_v7());
        let last = Uuid::now_v7();
        let issued = binding("recipients", tenant, parent);
        let cursor = key.seal(&issued, last);
        assert_eq!(key.open(&issued, &cursor).unwrap(), last);
        for other in [
            binding("contacts", tenant, parent),
            binding("recipients", Some(TenantId::new()), parent),
            binding("recipients", None, parent),
            binding("recipients", tenant, Some(Uuid::now_v7())),
            binding("recipients", tenant, None),
        ] {
            assert!(is_cursor_error(key.open(&other, &cursor)));
        }
        let other_key = CursorKey::derive(&KeySetting::Operator("ff".repeat(32).into()));
        assert!(is_cursor_error(other_key.open(&issued, &cursor)));
    }

    #[test]
    fn altered_truncated_and_stale_cursors_are_refused() {
        let key = key();
        let issued = binding("contacts", Some(TenantId::new()), None);
        let cursor = key.seal(&issued, Uuid::now_v7());
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for at in 0..bytes.len() {
            bytes[at] ^= 0x01;
            let altered = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(is_cursor_error(key.open(&issued, &altered)), "byte {at}");
            bytes[at] ^= 0x01;
        }
        assert!(is_cursor_error(
            key.open(&issued, &cursor[..cursor.len() - 2])
        ));
        assert!(is_cursor_error(key.open(&issued, "")));
        assert!(is_cursor_error(key.open(&issued, "not base64!")));
        // A well-formed token of another format version, even with a valid tag for it.
        let mut stale = vec![CURSOR_VERSION + 1];
        stale.extend_from_slice(Uuid::now_v7().as_bytes());
        let tag = key.tag(&issued, &stale).finalize().into_bytes();
        stale.extend_from_slice(&tag[..TAG_LEN]);
        let refused = key.open(&issued, &URL_SAFE_NO_PAD.encode(&stale));
        assert!(matches!(&refused, Err(e) if e.message.contains("format")));
        assert!(is_cursor_error(refused));
    }

    #[test]
    fn limit_defaults_to_50_and_accepts_1_to_500() {
        assert_eq!(parse_limit(None).unwrap(), 50);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("500")).unwrap(), 500);
        for bad in [
            "0",
            "501",
            "-1",
            "abc",
            "",
            "1.5",
            "99999999999999999999999",
        ] {
            let err = parse_limit(Some(bad)).unwrap_err();
            assert_eq!(err.code, common::ErrorCode::InvalidParameter, "{bad}");
            assert_eq!(err.field.as_deref(), Some("limit"));
            assert!(err.message.contains("`limit`"));
        }
    }

    #[test]
    fn fields_choose_among_the_documented_ones() {
        assert_eq!(choose_fields(&CONTACTS, None).unwrap(), ["id", "phone"]);
        assert_eq!(
            choose_fields(&CONTACTS, Some("name, id,name")).unwrap(),
            ["name", "id"]
        );
        let err = choose_fields(&CONTACTS, Some("id,secret")).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("fields"));
        assert!(err.message.contains("`secret`"), "{}", err.message);
        assert!(
            err.message.contains("id, phone, name, fields"),
            "{}",
            err.message
        );
        assert!(choose_fields(&CONTACTS, Some(" , ")).is_err());
    }

    #[test]
    fn select_keeps_only_the_chosen_fields_nulls_included() {
        #[derive(Serialize)]
        struct Item {
            id: u32,
            phone: &'static str,
            name: Option<&'static str>,
        }
        let item = Item {
            id: 7,
            phone: "55",
            name: None,
        };
        let chosen = select(&item, &["name", "id"]).unwrap();
        assert_eq!(
            Value::Object(chosen),
            serde_json::json!({"id": 7, "name": null})
        );
    }
}
