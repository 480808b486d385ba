//! What an app hands to [`Ciba::start`](super::Ciba::start) and gets back:
//! the request, the opaque handle of a pending authentication, and its status.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::claims::AuthenticatedUser;
use crate::login_hint::LoginHint;
use crate::permission::api::{AcrValues, BibAcr, ClientSignals};
use crate::permission::error::PermissionError;
use crate::permission::statement::Permission;

/// A backchannel authentication to start.
#[derive(Debug, Clone)]
#[must_use]
pub struct CibaRequest {
    pub(super) hint: LoginHint,
    /// The permission's type and statement; its digest is computed at
    /// start, with the layer's configured digest input.
    pub(super) permission: Option<(&'static str, Vec<u8>)>,
    pub(super) permission_error: Option<PermissionError>,
    pub(super) check_user_exists: bool,
    pub(super) signals: Option<ClientSignals>,
    pub(super) acr_values: AcrValues,
}

impl CibaRequest {
    /// A request for the user `hint` names.
    pub fn new(hint: LoginHint) -> Self {
        CibaRequest {
            hint,
            permission: None,
            permission_error: None,
            check_user_exists: true,
            signals: None,
            acr_values: AcrValues::default(),
        }
    }

    /// A permission the user approves with this authentication (instead of
    /// a plain login, `authentication.v1`). Its digest uses the configured
    /// [`DigestInput`](crate::permission::DigestInput); after approval its signed grant
    /// is fetched from BIB and verified.
    pub fn permission<P: Permission>(mut self, permission: &P) -> Self {
        crate::permission::statement::assert_upfront_type::<P>();
        match serde_json::to_vec(permission) {
            Ok(statement) => self.permission = Some((P::TYPE, statement)),
            Err(_) => self.permission_error = Some(PermissionError::Serialization),
        }
        self
    }

    /// Browser signals of the device that starts the request, sent with the
    /// registration. Default: none.
    pub fn signals(mut self, signals: ClientSignals) -> Self {
        self.signals = Some(signals);
        self
    }

    /// Forces where BIB ends the approval (the registration's `acr_values`,
    /// see [`BibAcr`]); call again to allow both. Asking for
    /// [`BibAcr::High`] alone also makes this login require LOA 4, whatever
    /// the layer's minimum. Default: the layer's minimum decides — LOA 4
    /// sends `["urn:bankid:bih"]` (the only way CIBA reaches BankID High),
    /// lower sends nothing (BIB's default).
    pub fn acr_value(mut self, acr: BibAcr) -> Self {
        self.acr_values.add(acr);
        self
    }

    /// Skips the `user-exists` pre-check (default: on).
    pub fn skip_user_exists_check(mut self) -> Self {
        self.check_user_exists = false;
        self
    }
}

/// An opaque reference to a pending authentication; safe to hand to the
/// device that waits (it is not the provider's `auth_req_id`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CibaHandle(pub(crate) String);

impl CibaHandle {
    /// The handle as a string, for URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a handle received from a client.
    pub fn parse(text: &str) -> Option<CibaHandle> {
        is_valid_handle(text).then(|| CibaHandle(text.to_owned()))
    }
}

impl fmt::Debug for CibaHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CibaHandle(<opaque>)")
    }
}

/// A started authentication.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CibaStarted {
    /// Where to ask for the outcome.
    pub handle: CibaHandle,
    /// The binding message **made by BankID** (from the registration): show
    /// it on the device; the user's BankID app shows the same.
    pub binding_message: String,
    /// Seconds until the request expires.
    pub expires_in: u64,
}

/// Where a pending authentication stands.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CibaStatus {
    /// Waiting for the user; ask again after `retry_after_ms`.
    Pending {
        /// Milliseconds until the provider may be polled again.
        retry_after_ms: u64,
    },
    /// Approved and verified.
    Approved {
        /// The verified user.
        user: Box<AuthenticatedUser>,
    },
    /// Finished without a login; `error` says why (see [`CibaError::kind`](crate::ciba::CibaError::kind)).
    Failed {
        /// The failure's stable code.
        error: String,
    },
}

/// A handle is 32 lowercase hex digits (128 random bits). It is not in the
/// session-id format, so a handle sent as a session cookie names nothing.
fn is_valid_handle(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
