//! The one error type every handler and extractor returns, and the JSON shape it answers with
//! ([`ApiError`]): a code the client can act on and a message that says what to do next.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gatehouse_protocol::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;

use crate::{audit, store};

/// Why an identity was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No client certificate reached the HTTP layer.
    #[error("no client certificate was presented; connect with your Gatehouse client certificate")]
    NoCertificate,
    /// The certificate expired.
    #[error("your client certificate expired at {0}; ask an administrator to issue a new one")]
    Expired(DateTime<Utc>),
    /// The certificate is not valid yet.
    #[error("your client certificate is not valid until {0}; check this computer's clock or wait")]
    NotYetValid(DateTime<Utc>),
    /// Not in the registry.
    #[error(
        "certificate {0} is not registered with this deployment; ask an administrator to register it"
    )]
    NotRegistered(String),
    /// Disabled in the registry.
    #[error("access for {0} has been disabled by an administrator")]
    Disabled(String),
}

impl IdentityError {
    /// The name the audit entry gives the refused party.
    pub fn actor_name(&self) -> &str {
        match self {
            IdentityError::Disabled(name) => name,
            _ => "unidentified",
        }
    }

    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        match self {
            IdentityError::NoCertificate => ErrorCode::CertificateRequired,
            IdentityError::Expired(_) => ErrorCode::CertificateExpired,
            IdentityError::NotYetValid(_) => ErrorCode::CertificateNotYetValid,
            IdentityError::NotRegistered(_) => ErrorCode::NotRegistered,
            IdentityError::Disabled(_) => ErrorCode::Disabled,
        }
    }

    /// The reason recorded in the audit entry.
    pub fn code_name(&self) -> &'static str {
        match self {
            IdentityError::NoCertificate => "certificate_required",
            IdentityError::Expired(_) => "certificate_expired",
            IdentityError::NotYetValid(_) => "certificate_not_yet_valid",
            IdentityError::NotRegistered(_) => "not_registered",
            IdentityError::Disabled(_) => "disabled",
        }
    }
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller could not be identified or is not allowed in.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A client-visible error with its code.
    #[error("{1}")]
    Api(ErrorCode, String),
    /// Over a rate budget: a 429 whose `Retry-After` header says when to send again.
    #[error("{message}")]
    RateLimited {
        /// What happened and when to send again, in words.
        message: String,
        /// Seconds until a request fits.
        retry_secs: u64,
    },
    /// Storage failed: logged, never shown to the client.
    #[error(transparent)]
    Db(#[from] store::Error),
    /// The audit log failed: the action is refused (fail closed).
    #[error(transparent)]
    Audit(#[from] audit::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (code, message) = match &self {
            Error::Identity(e) => {
                tracing::warn!(reason = %e, "identity refused");
                (e.code(), e.to_string())
            }
            Error::Api(code, message) => (*code, message.clone()),
            Error::RateLimited { message, .. } => (ErrorCode::RateLimited, message.clone()),
            Error::Audit(audit::Error::OutOfRange(message)) => {
                (ErrorCode::NotFound, message.clone())
            }
            Error::Audit(e) => {
                tracing::error!(error = %e, "audit failure: request refused");
                (
                    ErrorCode::Internal,
                    "the server could not record this in its audit log, so it did nothing; quote the x-request-id to an administrator"
                        .to_owned(),
                )
            }
            Error::Db(store::Error::Duplicate(what)) => {
                (ErrorCode::Conflict, format!("{what} is already registered"))
            }
            Error::Db(e) => {
                tracing::error!(error = %e, "storage failure");
                (
                    ErrorCode::Internal,
                    "the server could not complete the request; quote the x-request-id to an administrator"
                        .to_owned(),
                )
            }
        };
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(ApiError { code, message })).into_response();
        if let Error::RateLimited { retry_secs, .. } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_secs),
            );
        }
        response
    }
}

/// A rejection's status and text as an [`Error`]: 413 for a body over the limit, 400 otherwise.
fn rejected(status: StatusCode, text: String, what: &str) -> Error {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::Api(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than this server accepts; send less".to_owned(),
        )
    } else {
        Error::Api(ErrorCode::BadRequest, format!("bad {what}: {text}"))
    }
}

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        rejected(r.status(), r.body_text(), "request body")
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        rejected(r.status(), r.body_text(), "query")
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        rejected(r.status(), r.body_text(), "path")
    }
}

/// `axum::Json` whose rejection is an [`Error`] (the [`ApiError`] shape), not plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Json(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is an [`Error`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` whose rejection is an [`Error`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_refusal_is_a_429_that_says_when_to_send_again() {
        let response = Error::RateLimited {
            message: "more than 6 mint requests a minute; send it again in 7 s".to_owned(),
            retry_secs: 7,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get(axum::http::header::RETRY_AFTER),
            Some(&axum::http::HeaderValue::from(7_u64))
        );
        let other = Error::Api(ErrorCode::Conflict, "no".to_owned()).into_response();
        assert!(
            other
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .is_none()
        );
    }
}
