//! The bearer token shared by every client of one [`Mandi`](crate::Mandi), so a CLI can
//! sign in once and have every service client send the new token.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use http::HeaderValue;

use crate::SdkError;

/// A shared, changeable access token. Clones see the same token.
#[derive(Clone, Default)]
pub struct TokenHandle {
    inner: Arc<RwLock<Option<Bearer>>>,
}

/// The token and the `authorization` header built from it once, when it was set.
struct Bearer {
    token: String,
    header: HeaderValue,
}

// === impl TokenHandle ===

impl TokenHandle {
    /// Creates a handle holding `token`, or no token.
    pub fn new(token: Option<String>) -> Result<Self, SdkError> {
        let handle = Self::default();
        handle.set(token)?;
        Ok(handle)
    }

    /// Replaces the token (`None` signs out). Every clone sees the change on its next call.
    ///
    /// Fails, leaving the old token in place, when the token cannot be sent as a header.
    pub fn set(&self, token: Option<String>) -> Result<(), SdkError> {
        let bearer = match token {
            Some(token) => {
                let mut header = HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(SdkError::InvalidToken)?;
                // Keeps the token out of HPACK tables and debug output of the HTTP stack.
                header.set_sensitive(true);
                Some(Bearer { token, header })
            }
            None => None,
        };
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = bearer;
        Ok(())
    }

    /// Removes the token.
    pub fn clear(&self) {
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Returns the current token, if any.
    pub fn get(&self) -> Option<String> {
        self.read(|bearer| bearer.token.clone())
    }

    /// Returns the `authorization` header value for the current token, if any.
    pub(crate) fn header(&self) -> Option<HeaderValue> {
        self.read(|bearer| bearer.header.clone())
    }

    fn read<T>(&self, f: impl FnOnce(&Bearer) -> T) -> Option<T> {
        // A writer cannot panic half-way through replacing an Option, so a poisoned lock
        // still holds a whole value.
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
    }
}

impl fmt::Debug for TokenHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token itself.
        f.debug_struct("TokenHandle")
            .field("set", &self.read(|_| ()).is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_see_a_token_set_after_they_were_made() {
        let handle = TokenHandle::default();
        let clone = handle.clone();

        handle.set(Some("abc".into())).expect("valid token");

        assert_eq!(clone.get().as_deref(), Some("abc"));
        assert_eq!(clone.header().expect("header"), "Bearer abc");
    }

    #[test]
    fn clearing_the_token_removes_the_header() {
        let handle = TokenHandle::new(Some("abc".into())).expect("valid token");

        handle.clear();

        assert!(handle.get().is_none());
        assert!(handle.header().is_none());
    }

    #[test]
    fn a_token_with_a_newline_is_rejected_and_the_old_one_kept() {
        let handle = TokenHandle::new(Some("old".into())).expect("valid token");

        let result = handle.set(Some("bad\ntoken".into()));

        assert!(matches!(result, Err(SdkError::InvalidToken(_))));
        assert_eq!(handle.get().as_deref(), Some("old"));
    }

    #[test]
    fn debug_output_does_not_show_the_token() {
        let handle = TokenHandle::new(Some("secret-token".into())).expect("valid token");

        let shown = format!("{handle:?}");

        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("set: true"), "{shown}");
    }
}
