//! The config file: the endpoint to use, the signed-in session and the guest cart id.
//! It holds tokens, so it is written with 0600 permissions (its directory 0700), through a
//! temporary file renamed into place so a crash never leaves half a file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// What the config file holds. Unknown keys are refused so a typo is noticed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The server's URL, used when neither `--endpoint` nor `MANDI_ENDPOINT` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The signed-in session, written by `mandi login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// The guest cart filled while not logged in; merged into the account's on login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_cart_id: Option<String>,
}

/// A signed-in session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The account's email, for `mandi whoami` hints.
    pub email: String,
    /// The access token sent as `authorization: Bearer`.
    pub access_token: String,
    /// The refresh token that renews the access token.
    pub refresh_token: String,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: i64,
    /// The signed-in rider's rider id, once `mandi rider` learnt it (riders cannot look
    /// themselves up by user); it belongs to this account, so it goes with the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rider_id: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the tokens themselves.
        f.debug_struct("Session")
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .field("rider_id", &self.rider_id)
            .finish_non_exhaustive()
    }
}

/// The config file's path: `explicit` (`--config`/`MANDI_CONFIG`), else
/// `$XDG_CONFIG_HOME/mandi/config.toml`, else `~/.config/mandi/config.toml`.
pub fn path(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("mandi").join("config.toml"));
    }
    match non_empty("HOME") {
        Some(home) => Ok(PathBuf::from(home)
            .join(".config")
            .join("mandi")
            .join("config.toml")),
        None => bail!("cannot find a config directory: set HOME, XDG_CONFIG_HOME or MANDI_CONFIG"),
    }
}

impl Config {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read config file {}", path.display()));
            }
        };
        toml::from_str(&text).with_context(|| {
            format!(
                "config file {} is not valid (fix or delete it; `mandi login` writes a new one)",
                path.display()
            )
        })
    }

    /// Writes the file with 0600 permissions, creating its directory (0700) if needed.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create config directory {}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict config directory {}", dir.display()))?;
        }
        let text = toml::to_string(self).context("cannot encode the config")?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config.toml".to_owned());
        let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)?;
            // The mode above only applies to new files; a stale temp file keeps its own.
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&temp, path)
        };
        write().with_context(|| format!("cannot write config file {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_config_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.toml");
        let config = Config {
            endpoint: Some("http://127.0.0.1:1".into()),
            session: Some(Session {
                email: "a@example.com".into(),
                access_token: "a".into(),
                refresh_token: "r".into(),
                expires_at: 42,
                rider_id: Some("rider".into()),
            }),
            guest_cart_id: Some("cart".into()),
        };
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn a_missing_file_is_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::load(&dir.path().join("none.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn a_broken_file_names_itself_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "endpont = 1").unwrap();
        let error = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(error.contains("config.toml is not valid"), "{error}");
        assert!(error.contains("endpont"), "{error}");
    }

    #[test]
    fn the_session_debug_hides_the_tokens() {
        let session = Session {
            email: "a@example.com".into(),
            access_token: "secret-access".into(),
            refresh_token: "secret-refresh".into(),
            expires_at: 1,
            rider_id: None,
        };
        assert!(!format!("{session:?}").contains("secret"));
    }
}
