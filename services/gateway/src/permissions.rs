//! Account permissions, enforced: a handler states the permission it needs by taking
//! [`Allowed<P>`] (or, where superadmins are served too, by calling [`require`]), and the
//! caller's account role must hold it.
//!
//! Who holds what:
//! - a tenant admin holds every permission;
//! - a user who is an agent of its account holds exactly its role's permissions (an agent whose
//!   role reads campaigns cannot send one, add a number or export contacts);
//! - a user who holds no role in its account is a full member, as before roles existed: a
//!   tenant admin restricts a user by giving it a role.
//!
//! The role is read through the account's cached agent list (`session_agents:{accountId}`),
//! which every role change and agent assignment drops, so a changed role applies on the next
//! request on every replica. The [`load`] middleware reads it once per request, after
//! authentication and the rate limit and before any extractor, so the check itself is
//! synchronous: actix polls a handler's extractors together, and an asynchronous check would
//! let a body's validation error answer before the refusal.
//!
//! The OpenAPI document names each operation's permission as `x-permission`
//! ([`crate::openapi`]); a system test walks every such operation with a role lacking it
//! (403 `forbidden`, nothing changed) and with one holding it.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use common::{Permission, Role};
use db::auth::Principal;

use crate::auth::{Caller, TenantUser};
use crate::error::ApiError;
use crate::routes::access::Agent;
use crate::state::AppState;

/// A permission as a type, so a handler's signature states what it needs.
pub trait Needs {
    const PERMISSION: Permission;
}

macro_rules! permission_types {
    ($($name:ident),* $(,)?) => {
        /// One type per [`Permission`], named alike.
        pub mod perm {
            use common::Permission;
            $(
                #[doc = concat!("[`Permission::", stringify!($name), "`]")]
                pub struct $name;
                impl super::Needs for $name {
                    const PERMISSION: Permission = Permission::$name;
                }
            )*
        }
    };
}

permission_types!(
    CampaignsRead,
    CampaignsWrite,
    ContactsRead,
    ContactsWrite,
    InboxesRead,
    InboxesWrite,
    ReportsRead,
    TeamManage,
    SettingsManage,
);

/// A tenant user whose account role holds `P`; 403 `forbidden` otherwise (401 without a
/// caller, 403 for a superadmin, as [`TenantUser`]).
pub struct Allowed<P: Needs> {
    pub user: TenantUser,
    needs: PhantomData<P>,
}

impl<P: Needs> std::ops::Deref for Allowed<P> {
    type Target = TenantUser;
    fn deref(&self) -> &TenantUser {
        &self.user
    }
}

impl<P: Needs + 'static> FromRequest for Allowed<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(
            TenantUser::from_request(req, payload)
                .into_inner()
                .and_then(|user| {
                    check(held_by_request(req)?, P::PERMISSION)?;
                    Ok(Allowed {
                        user,
                        needs: PhantomData,
                    })
                }),
        )
    }
}

/// Any authenticated caller whose account role holds `P`: the superadmin holds every
/// permission (for endpoints that serve the platform and tenants alike, such as the job lists).
pub struct AllowedCaller<P: Needs> {
    pub caller: Caller,
    needs: PhantomData<P>,
}

impl<P: Needs> std::ops::Deref for AllowedCaller<P> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<P: Needs + 'static> FromRequest for AllowedCaller<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(
            Caller::from_request(req, payload)
                .into_inner()
                .and_then(|caller| {
                    check(held_by_request(req)?, P::PERMISSION)?;
                    Ok(AllowedCaller {
                        caller,
                        needs: PhantomData,
                    })
                }),
        )
    }
}

/// What [`load`] found for this request's caller.
fn held_by_request(req: &HttpRequest) -> Result<Held, ApiError> {
    req.extensions()
        .get::<Held>()
        .cloned()
        .ok_or_else(|| ApiError::internal("the permissions middleware did not run"))
}

fn check(held: Held, permission: Permission) -> Result<(), ApiError> {
    match held {
        Held::All => Ok(()),
        Held::Only(permissions) if permissions.contains(&permission) => Ok(()),
        Held::Only(_) => Err(ApiError::forbidden(format!(
            "your role in this account does not allow `{}`",
            permission.as_str()
        ))),
    }
}

/// Reads what an authenticated caller holds into the request, for the extractors above. A
/// failed read (the database down) answers as the read would in a handler.
pub async fn load(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let principal = req.extensions().get::<Principal>().cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let (Some(principal), Some(state)) = (principal, state) {
        match held(&state, &principal).await {
            Ok(held) => {
                req.extensions_mut().insert(held);
            }
            Err(error) => {
                let (request, _) = req.into_parts();
                let response = actix_web::ResponseError::error_response(&error);
                return Ok(ServiceResponse::new(request, response).map_into_right_body());
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// `Ok` when `user` holds `permission` (see the module's documentation for who holds what).
pub async fn require(
    state: &AppState,
    user: &TenantUser,
    permission: Permission,
) -> Result<(), ApiError> {
    require_of(state, &user.caller.0, permission).await
}

/// [`require`] for endpoints that serve the superadmin too (who holds every permission).
pub async fn require_of(
    state: &AppState,
    principal: &Principal,
    permission: Permission,
) -> Result<(), ApiError> {
    check(held(state, principal).await?, permission)
}

/// What a caller may do in its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    All,
    Only(Vec<Permission>),
}

/// The permissions `principal` holds in its account.
pub async fn held(state: &AppState, principal: &Principal) -> Result<Held, ApiError> {
    let (Role::User, Some(tenant), Some(account_id)) =
        (principal.role, principal.tenant, principal.account_id)
    else {
        // Superadmins and tenant admins hold everything; a user of no account reaches no
        // account data (the handlers refuse it themselves).
        return Ok(Held::All);
    };
    let scope = db::TenantScope::for_caller(&state.db, tenant.id);
    let agents = crate::cached::read(
        state,
        &crate::routes::access::agents_key(tenant.id, account_id),
        async {
            let agents = db::access::agents(scope, account_id).await?;
            Ok(Some(agents.into_iter().map(Agent::from).collect()))
        },
    )
    .await?
    .unwrap_or_default();
    Ok(
        match agents
            .into_iter()
            .find(|agent| agent.user_id == principal.user_id)
        {
            Some(agent) => Held::Only(agent.role.permissions),
            None => Held::All,
        },
    )
}
