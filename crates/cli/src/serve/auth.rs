//! Bearer-token authentication: the token type, its constant-time check and the middleware.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ServeError;
use super::error::ApiError;
use super::state::Shared;

/// The shortest token accepted: shorter ones can be guessed by a patient client.
pub const MIN_TOKEN_LEN: usize = 16;

/// The secret every request but `GET /healthz` must carry as `Authorization: Bearer TOKEN`.
///
/// Neither `Debug` nor any log shows it, and it is compared in constant time.
///
/// ```
/// use volley_cli::serve::Token;
///
/// let token = Token::new("0123456789abcdef0123")?;
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// assert!(Token::new("short").is_err());
/// # Ok::<(), volley_cli::serve::ServeError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// A token: at least [`MIN_TOKEN_LEN`] bytes of visible ASCII (no spaces, which HTTP
    /// clients and proxies trim or split on).
    ///
    /// # Errors
    /// [`ServeError::InvalidToken`] saying what is wrong (never the token itself).
    pub fn new(token: impl Into<String>) -> Result<Token, ServeError> {
        let token = token.into();
        if token.len() < MIN_TOKEN_LEN {
            return Err(ServeError::InvalidToken {
                reason: format!(
                    "it has {} characters; use at least {MIN_TOKEN_LEN} (for example the output \
                     of `openssl rand -hex 32`)",
                    token.len()
                ),
            });
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServeError::InvalidToken {
                reason: "it may hold only visible ASCII characters (no spaces)".to_owned(),
            });
        }
        Ok(Token(token.into()))
    }

    /// Whether `given` is the token. Takes the same time whatever `given` holds, for a given
    /// token length, so response times do not tell an attacker how much of a guess was right.
    pub(crate) fn matches(&self, given: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        // Any length difference is a mismatch; the loop runs over the expected bytes anyway.
        let mut difference = expected.len() ^ given.len();
        for (i, &byte) in expected.iter().enumerate() {
            let other = given.get(i).copied().unwrap_or(0);
            difference |= usize::from(byte ^ other);
        }
        // Keep the optimizer from turning the fold into an early exit.
        std::hint::black_box(difference) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl std::str::FromStr for Token {
    type Err = ServeError;
    fn from_str(s: &str) -> Result<Token, ServeError> {
        Token::new(s)
    }
}

/// How the API checks who calls it.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// `Authorization: Bearer TOKEN` on every request but health.
    Token(Token),
    /// Nothing: anyone who can connect may run tools (asked for explicitly).
    Insecure,
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive, RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Middleware: lets a request through only with the right bearer token; 401 otherwise.
pub(crate) async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Auth::Token(token) = &shared.config.auth else {
        return next.run(request).await;
    };
    match bearer(request.headers()) {
        Some(given) if token.matches(given) => next.run(request).await,
        Some(_) => ApiError::unauthorized(true).into_response(),
        None => ApiError::unauthorized(false).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_match_only_themselves() {
        let token = Token::new("abcdefghijklmnop").unwrap();
        for (given, expected) in [
            (&b"abcdefghijklmnop"[..], true),
            (b"abcdefghijklmnoq", false),
            (b"abcdefghijklmno", false),
            (b"abcdefghijklmnopq", false),
            (b"", false),
            (b"Abcdefghijklmnop", false),
        ] {
            assert_eq!(token.matches(given), expected, "{given:?}");
        }
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_without_echoing_them() {
        let short = Token::new("hunter2").unwrap_err().to_string();
        assert!(short.contains("7 characters"), "{short}");
        assert!(!short.contains("hunter2"), "{short}");
        let spaced = Token::new("correct horse battery staple")
            .unwrap_err()
            .to_string();
        assert!(spaced.contains("no spaces"), "{spaced}");
        assert!(!spaced.contains("horse"), "{spaced}");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_required() {
        let cases = [
            ("Bearer abc", Some(&b"abc"[..])),
            ("bearer abc", Some(b"abc")),
            ("BEARER  abc ", Some(b"abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("abc", None),
        ];
        for (header, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(header));
            assert_eq!(bearer(&headers), expected, "{header}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
