//! Configuration from the environment (`MANDI_<SECTION>__<KEY>`) and an optional file.
//!
//! A file named by `MANDI_CONFIG_FILE` holds `KEY=VALUE` lines; the environment wins over
//! it. Every bad value is reported with the variable that holds it, so start-up can exit
//! with a message that says exactly what to fix.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// The exit code for bad configuration (EX_USAGE in sysexits.h).
pub const EXIT_BAD_CONFIG: i32 = 64;

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable held a value that does not parse.
    #[error("{var}={value:?} is not valid: {reason}")]
    Invalid {
        /// The variable's name.
        var: String,
        /// The value found.
        value: String,
        /// Why it was refused and what is expected.
        reason: String,
    },
    /// A required variable was not set.
    #[error("{var} must be set: {hint}")]
    Missing {
        /// The variable's name.
        var: String,
        /// What it should hold.
        hint: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("config file {path}: {reason}")]
    File {
        /// The file's path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// A snapshot of configuration variables: the file's, overridden by the environment's.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Reads the process environment and the file named by `MANDI_CONFIG_FILE`, if any.
    pub fn load() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        if let Ok(path) = std::env::var("MANDI_CONFIG_FILE") {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            vars.extend(parse_file(&path, &text)?);
        }
        vars.extend(std::env::vars().filter(|(k, _)| k.starts_with("MANDI_")));
        Ok(Self { vars })
    }

    /// Builds a snapshot from explicit pairs (tests, embedded servers).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets a value, replacing any earlier one.
    pub fn set(&mut self, var: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(var.into(), value.into());
    }

    /// The raw value of a variable, if set and not empty.
    pub fn raw(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Parses a variable, or returns `default` when it is unset.
    pub fn get_or<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.get(var)?.unwrap_or(default))
    }

    /// Parses a variable if it is set.
    pub fn get<T>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(var)
            .map(|value| {
                value.parse().map_err(|e: T::Err| ConfigError::Invalid {
                    var: var.to_owned(),
                    value: value.to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Parses a required variable.
    pub fn require<T>(&self, var: &str, hint: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(var)?.ok_or_else(|| ConfigError::Missing {
            var: var.to_owned(),
            hint: hint.to_owned(),
        })
    }

    /// For a service embedded in this process (`--target=all`): when `secret_var` is unset,
    /// sets it to a random secret and registers `service` with it in identity's
    /// `MANDI_IDENTITY__SERVICE_CLIENTS`, so the service signs in as itself out of the box.
    /// A `service` entry already in the clients without `secret_var` beside it is refused.
    pub fn embed_service_secret(
        &mut self,
        service: &str,
        secret_var: &str,
    ) -> Result<(), ConfigError> {
        if self.raw(secret_var).is_some() {
            return Ok(());
        }
        let mut clients = self.list("MANDI_IDENTITY__SERVICE_CLIENTS");
        if clients
            .iter()
            .any(|c| c.starts_with(&format!("{service}=")))
        {
            return Err(ConfigError::Missing {
                var: secret_var.into(),
                hint: format!("the secret MANDI_IDENTITY__SERVICE_CLIENTS gives {service}"),
            });
        }
        use rand::Rng as _;
        let secret: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        clients.push(format!("{service}={secret}"));
        self.set("MANDI_IDENTITY__SERVICE_CLIENTS", clients.join(","));
        self.set(secret_var, secret);
        Ok(())
    }

    /// The error for `var`'s value, with why it is refused (the value as set, or empty).
    pub fn invalid(&self, var: &str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            var: var.to_owned(),
            value: self.raw(var).unwrap_or_default().to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Like [`duration_or`](Self::duration_or), refusing values outside `min..=max`.
    pub fn duration_within(
        &self,
        var: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let value = self.duration_or(var, default)?;
        if !(min..=max).contains(&value) {
            return Err(self.invalid(var, &format!("must be between {min:?} and {max:?}")));
        }
        Ok(value)
    }

    /// Parses a duration such as `250ms`, `30s`, `15m`, `12h` or `7d`.
    pub fn duration_or(&self, var: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(value) => parse_duration(value).ok_or_else(|| ConfigError::Invalid {
                var: var.to_owned(),
                value: value.to_owned(),
                reason: "expected a number with a unit: ms, s, m, h or d (for example 30s)".into(),
            }),
        }
    }

    /// Splits a comma-separated list, trimming blanks.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.raw(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn parse_file(path: &str, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| {
            line.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| ConfigError::File {
                    path: path.to_owned(),
                    reason: format!("line {number} is not KEY=VALUE"),
                })
        })
        .collect()
}

/// Parses `<number><unit>` with unit ms, s, m, h or d.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(number)),
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_outside_its_range_names_the_variable_and_the_range() {
        let env = Env::from_pairs([("MANDI_X__TIMEOUT", "5m")]);
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let err = env
            .duration_within("MANDI_X__TIMEOUT", Duration::from_secs(5), min, max)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("MANDI_X__TIMEOUT=\"5m\""), "{err}");
        assert!(err.contains("must be between 1s and 60s"), "{err}");
        let unset = Env::from_pairs(Vec::<(String, String)>::new());
        let default = unset.duration_within("MANDI_X__TIMEOUT", Duration::from_secs(5), min, max);
        assert_eq!(default.ok(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let env = Env::from_pairs([("MANDI_SERVER__PORT", "eighty")]);
        let err = env.get::<u16>("MANDI_SERVER__PORT").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("MANDI_SERVER__PORT=\"eighty\" is not valid")
        );
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("15"), None);
        assert_eq!(parse_duration("m"), None);
    }

    #[test]
    fn a_missing_required_variable_says_what_it_needs() {
        let err = Env::default()
            .require::<String>("MANDI_IDENTITY__DATABASE_URL", "a postgres:// URL")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "MANDI_IDENTITY__DATABASE_URL must be set: a postgres:// URL"
        );
    }

    #[test]
    fn the_file_is_key_value_lines_with_comments() {
        let vars = parse_file("f", "# c\nA=1\n\nB = two\n").unwrap();
        assert_eq!(
            vars,
            vec![("A".into(), "1".into()), ("B".into(), "two".into())]
        );
        assert!(parse_file("f", "oops").is_err());
    }
}
