//! DPoP (RFC 9449): proofs of possession at the token endpoint.

use warden_types::ErrorCode;

use crate::client_auth::CallContext;
use crate::engine::Engine;
use crate::error::OAuthError;

impl Engine {
    /// Verifies the request's DPoP proof, if any, for the token endpoint and returns the
    /// RFC 7638 thumbprint of its key.
    pub(crate) async fn token_endpoint_dpop(
        &self,
        ctx: &CallContext<'_>,
    ) -> Result<Option<String>, OAuthError> {
        match ctx.dpop {
            None => Ok(None),
            Some(_) => Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "DPoP is not supported yet",
            )),
        }
    }
}
