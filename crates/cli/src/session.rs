//! Everything a command needs: the SDK client for the chosen endpoint, the token to send,
//! the config file (session, guest cart) and how to print. Settings come from flags, then
//! the environment (clap reads both), then the config file, then the defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::RefreshRequest;
use tonic::Code;

use crate::cli::{DEFAULT_ENDPOINT, GlobalArgs, OutputFormat};
use crate::config::{self, Config, Session};
use crate::exit::{CliError, Exit, from_status};
use crate::output::{print_json, to_json};

/// Renew the access token when it has less than this left.
const REFRESH_MARGIN_SECS: i64 = 30;

/// Where the token sent with calls came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenSource {
    None,
    /// `--token` or `MANDI_TOKEN`.
    Given,
    /// The config file's session.
    Session,
}

/// The state one command runs with.
pub struct Context {
    pub mandi: Mandi,
    pub endpoint: String,
    pub output: OutputFormat,
    pub config: Config,
    config_path: PathBuf,
    token: TokenSource,
    /// The stored session could not be renewed and was dropped.
    session_expired: bool,
}

impl Context {
    /// Reads the config file and builds a client; nothing is sent yet.
    pub fn new(global: &GlobalArgs) -> Result<Self> {
        let config_path = config::path(global.config.as_deref())?;
        let config = Config::load(&config_path)?;
        let endpoint = global
            .endpoint
            .clone()
            .or_else(|| config.endpoint.clone())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let (token, source) = match (&global.token, &config.session) {
            (Some(token), _) if !token.is_empty() => (Some(token.clone()), TokenSource::Given),
            (_, Some(session)) => (Some(session.access_token.clone()), TokenSource::Session),
            _ => (None, TokenSource::None),
        };
        let mut builder = Mandi::builder()
            .endpoint(endpoint.clone())
            .connect_timeout(Duration::from_secs(5))
            .default_deadline(Duration::from_secs(15));
        if let Some(token) = token {
            builder = builder.token(token);
        }
        let mandi = builder.connect_lazy().map_err(|e| {
            CliError::new(
                Exit::Usage,
                format!(
                    "endpoint {endpoint:?}: {e}; give an http:// URL such as {DEFAULT_ENDPOINT} \
                     with --endpoint or MANDI_ENDPOINT"
                ),
            )
        })?;
        Ok(Self {
            mandi,
            endpoint,
            output: global.output,
            config,
            config_path,
            token: source,
            session_expired: false,
        })
    }

    /// Writes the config file back (after login, logout, or a new guest cart).
    pub fn save(&self) -> Result<()> {
        self.config.save(&self.config_path)
    }

    pub fn is_logged_in(&self) -> bool {
        self.token != TokenSource::None
    }

    /// Fails with exit 3 and the hint to log in unless a token will be sent.
    pub fn require_login(&self) -> Result<()> {
        if self.is_logged_in() {
            return Ok(());
        }
        if self.session_expired {
            return Err(CliError::new(
                Exit::Unauthenticated,
                "your session expired: run `mandi login --email <you@example.com>`",
            )
            .into());
        }
        Err(CliError::not_logged_in().into())
    }

    /// Renews the stored session's access token when it is about to expire; a session the
    /// server no longer accepts is dropped (the command then runs logged out).
    pub async fn refresh_if_needed(&mut self) -> Result<()> {
        let Some(session) = self.config.session.clone() else {
            return Ok(());
        };
        if self.token != TokenSource::Session
            || session.expires_at - REFRESH_MARGIN_SECS > chrono::Utc::now().timestamp()
        {
            return Ok(());
        }
        let refreshed = self
            .mandi
            .identity()
            .refresh(RefreshRequest {
                refresh_token: session.refresh_token.clone(),
            })
            .await;
        match refreshed {
            Ok(response) => {
                let response = response.into_inner();
                self.mandi
                    .set_token(Some(response.access_token.clone()))
                    .context("the server sent an access token that cannot be sent back")?;
                self.config.session = Some(Session {
                    access_token: response.access_token,
                    refresh_token: response.refresh_token,
                    expires_at: chrono::Utc::now().timestamp() + response.expires_in,
                    ..session
                });
                self.save()
            }
            Err(status) if status.code() == Code::Unauthenticated => {
                self.mandi
                    .set_token(None)
                    .context("cannot drop the token")?;
                self.config.session = None;
                self.token = TokenSource::None;
                self.session_expired = true;
                self.save()
            }
            Err(status) => Err(self.status("renew the session")(status)),
        }
    }

    /// Starts using a new session (after login) and keeps it in the config.
    pub fn sign_in(&mut self, session: Session) -> Result<()> {
        self.mandi
            .set_token(Some(session.access_token.clone()))
            .context("the server sent an access token that cannot be sent back")?;
        self.config.session = Some(session);
        self.token = TokenSource::Session;
        Ok(())
    }

    /// Maps a failed call of `action` to a readable error with its exit code.
    pub fn status(&self, action: &str) -> impl Fn(tonic::Status) -> anyhow::Error + '_ {
        let action = action.to_owned();
        move |status| from_status(&status, &action, &self.endpoint).into()
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    /// Prints `message` (protobuf `full_name`) as JSON under `--output json`, else runs
    /// `table` to print it for people.
    pub fn print<M: prost::Message>(
        &self,
        message: &M,
        full_name: &str,
        table: impl FnOnce(&M),
    ) -> Result<()> {
        if self.json() {
            print_json(&to_json(message, full_name)?);
        } else {
            table(message);
        }
        Ok(())
    }
}

/// A fresh idempotency key for a mutation.
pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
