//! The few HTTP helpers the validator needs: bounded JSON GETs for metadata and keys.

use serde::de::DeserializeOwned;

/// The largest metadata, JWK Set or introspection response read, in bytes.
pub(crate) const MAX_BODY: usize = 512 * 1024;

/// Why a fetch failed; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response body larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("response is not the expected JSON")]
    Json,
}

/// GETs `url` and parses the JSON body, refusing non-2xx answers and bodies over [`MAX_BODY`].
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?;
    read_json(response).await
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes from a 2xx response.
pub(crate) async fn read_json<T: DeserializeOwned>(
    mut response: reqwest::Response,
) -> Result<T, FetchError> {
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| FetchError::Json)
}
