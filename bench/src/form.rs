//! `application/x-www-form-urlencoded` bodies and HTTP Basic client credentials.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Encodes `value` as the WHATWG `application/x-www-form-urlencoded` serializer does: bytes
/// `*-._`, digits and ASCII letters are kept, space becomes `+`, everything else `%XX`.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Serializes `pairs` as a form body.
pub(crate) fn body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` header value for `client_secret_basic`: RFC 6749 §2.3.1 says the client
/// identifier and secret are each form-urlencoded before they are joined and base64-encoded.
pub(crate) fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let joined = format!("{}:{}", encode(client_id), encode(client_secret));
    format!("Basic {}", STANDARD.encode(joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_a_form() {
        assert_eq!(encode("read write"), "read+write");
        assert_eq!(
            encode("https://bench.example/api"),
            "https%3A%2F%2Fbench.example%2Fapi"
        );
        assert_eq!(encode("a-b_c.d*e~"), "a-b_c.d*e%7E");
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // RFC 6749 §2.3.1: "s3cr:t" must reach the server as "s3cr%3At".
        let header = basic_authorization("client 1", "s3cr:t");
        assert_eq!(
            header,
            format!("Basic {}", STANDARD.encode("client+1:s3cr%3At"))
        );
    }

    #[test]
    fn joins_pairs() {
        let b = body(&[
            ("grant_type", "client_credentials"),
            ("resource", "urn:x y"),
        ]);
        assert_eq!(b, "grant_type=client_credentials&resource=urn%3Ax+y");
    }
}
