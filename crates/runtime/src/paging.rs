//! AIP-158 paging shared by every List and Search: page size rules and opaque page tokens
//! that carry a keyset cursor and a fingerprint of the request's filters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mandi_sdk::proto::mandi::common::v1::PageCursor;
use prost::Message as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Why a page request was refused; the field is named for INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {description}")]
pub struct PagingError {
    /// `page_size` or `page_token`.
    pub field: &'static str,
    /// What is wrong.
    pub description: String,
}

/// The page size to use: `default` for 0, at most `max`; negative is refused.
pub fn page_size(requested: i32, default: usize, max: usize) -> Result<usize, PagingError> {
    match requested {
        n if n < 0 => Err(PagingError {
            field: "page_size",
            description: "must not be negative".into(),
        }),
        0 => Ok(default),
        n => Ok((n as usize).min(max)),
    }
}

/// A fingerprint of everything that shapes a listing except the cursor; a token is only
/// valid with the same fingerprint.
pub fn fingerprint(filters: &impl Serialize) -> String {
    let json = serde_json::to_vec(filters).unwrap_or_default();
    Sha256::digest(json)
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An opaque token for `cursor` under `fingerprint`.
pub fn encode_token(cursor: &impl Serialize, fingerprint: &str) -> String {
    let page = PageCursor {
        after_key: serde_json::to_string(cursor).unwrap_or_default(),
        filter_hash: fingerprint.to_owned(),
    };
    URL_SAFE_NO_PAD.encode(page.encode_to_vec())
}

/// The cursor in `token`, or `None` for the first page. A malformed token or one made for
/// other filters is refused.
pub fn decode_token<T: DeserializeOwned>(
    token: &str,
    fingerprint: &str,
) -> Result<Option<T>, PagingError> {
    if token.is_empty() {
        return Ok(None);
    }
    let malformed = || PagingError {
        field: "page_token",
        description: "is not a token this service issued".into(),
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
    let page = PageCursor::decode(bytes.as_slice()).map_err(|_| malformed())?;
    if page.filter_hash != fingerprint {
        return Err(PagingError {
            field: "page_token",
            description: "was issued for a different query, filter or sort".into(),
        });
    }
    serde_json::from_str(&page.after_key)
        .map(Some)
        .map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0, 50, 200), Ok(50));
        assert_eq!(page_size(500, 50, 200), Ok(200));
        assert_eq!(page_size(7, 50, 200), Ok(7));
        assert_eq!(page_size(-1, 50, 200).unwrap_err().field, "page_size");
    }

    #[test]
    fn a_token_round_trips_only_under_its_own_filters() {
        let filters = fingerprint(&("fruit", 10));
        let token = encode_token(&(1_700_000_000_i64, "abc"), &filters);
        let cursor: Option<(i64, String)> = decode_token(&token, &filters).unwrap();
        assert_eq!(cursor, Some((1_700_000_000, "abc".into())));
        let other = fingerprint(&("veg", 10));
        assert!(decode_token::<(i64, String)>(&token, &other).is_err());
        assert!(decode_token::<(i64, String)>("%%%", &filters).is_err());
        assert_eq!(decode_token::<(i64, String)>("", &filters), Ok(None));
    }
}
