//! Errors on the wire: awsJson1_1's `{"__type", "message"}` body plus the `x-amzn-ErrorType`
//! header, carrying the same code (botocore reads only the body, the Rust SDK the header first).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// An error answer: a code the operation declares, a message and an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The error code, e.g. `InvalidInputException`.
    pub code: &'static str,
    /// What the client did wrong, or what failed.
    pub message: String,
    /// HTTP status; 400 for every modeled error.
    pub status: StatusCode,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// `AccessDeniedException`, HTTP 403: a request this server refuses to serve at all.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            ..ApiError::new("AccessDeniedException", message)
        }
    }

    /// An error a fault injects ([`crate::faults`]): `code` with HTTP 400, as the service
    /// answers its modeled errors, but 500 for `InternalFailure` and 503 for
    /// `ServiceUnavailableException`.
    pub fn injected(code: &'static str, message: impl Into<String>) -> Self {
        let status = match code {
            "InternalFailure" => StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceUnavailableException" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            ..ApiError::new(code, message)
        }
    }

    /// `InvalidInputException`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        ApiError::new("InvalidInputException", message)
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new("ResourceNotFoundException", message)
    }

    /// `ResourceAlreadyExistsException`.
    pub fn already_exists(message: impl Into<String>) -> Self {
        ApiError::new("ResourceAlreadyExistsException", message)
    }

    /// `ResourceInUseException`.
    pub fn in_use(message: impl Into<String>) -> Self {
        ApiError::new("ResourceInUseException", message)
    }

    /// `LimitExceededException`.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        ApiError::new("LimitExceededException", message)
    }

    /// `InvalidNextTokenException`.
    pub fn invalid_next_token(message: impl Into<String>) -> Self {
        ApiError::new("InvalidNextTokenException", message)
    }

    /// `TooManyTagsException`.
    pub fn too_many_tags(message: impl Into<String>) -> Self {
        ApiError::new("TooManyTagsException", message)
    }

    /// `TooManyTagKeysException`.
    pub fn too_many_tag_keys(message: impl Into<String>) -> Self {
        ApiError::new("TooManyTagKeysException", message)
    }

    /// `SerializationException`: the body is not a JSON object.
    pub fn serialization(message: impl Into<String>) -> Self {
        ApiError::new("SerializationException", message)
    }

    /// `UnknownOperationException` (404): no such `X-Amz-Target`.
    pub fn unknown_operation(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::new("UnknownOperationException", message)
        }
    }

    /// `RequestEntityTooLargeException` (413).
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..ApiError::new("RequestEntityTooLargeException", message)
        }
    }

    /// `InternalFailure` (500): the store failed. The message says no more than that.
    pub fn internal(err: &StoreError) -> Self {
        tracing::error!(error = %err, "internal failure");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..ApiError::new(
                "InternalFailure",
                "the request failed because of an internal error",
            )
        }
    }
}

impl From<StoreError> for ApiError {
    /// Store errors an operation did not map itself are internal failures.
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "message": self.message }).to_string();
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            "content-type",
            HeaderValue::from_static(super::CONTENT_TYPE),
        );
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        resp
    }
}
