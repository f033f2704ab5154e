//! Update masks (AIP-134): which fields an update changes. Every update needs one; a path
//! that is unknown or output only is refused, naming `update_mask`.

use super::ProfileError;

/// The checked paths of an update mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateMask {
    paths: Vec<String>,
}

impl UpdateMask {
    /// Checks `paths` against the fields an update may change (`updatable`) and those it
    /// may not (`output_only`, named as such in the error). Duplicates are dropped.
    pub fn parse(
        paths: &[String],
        updatable: &[&str],
        output_only: &[&str],
    ) -> Result<Self, ProfileError> {
        if paths.is_empty() {
            return Err(ProfileError::invalid(
                "update_mask",
                format!("must name at least one of {}", updatable.join(", ")),
            ));
        }
        let mut checked: Vec<String> = Vec::with_capacity(paths.len());
        for path in paths {
            let path = path.trim();
            if output_only.contains(&path) {
                return Err(ProfileError::invalid(
                    "update_mask",
                    format!("{path:?} is output only and cannot be updated"),
                ));
            }
            if !updatable.contains(&path) {
                return Err(ProfileError::invalid(
                    "update_mask",
                    format!("unknown path {path:?}; updatable: {}", updatable.join(", ")),
                ));
            }
            if !checked.iter().any(|p| p == path) {
                checked.push(path.to_owned());
            }
        }
        Ok(Self { paths: checked })
    }

    /// Whether the mask names `field`.
    pub fn has(&self, field: &str) -> bool {
        self.paths.iter().any(|p| p == field)
    }
}
