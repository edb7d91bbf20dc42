//! Errors and the exit codes Airflow reads (DESIGN.md §7).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    #[error("{0}")]
    Usage(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("missing permission: {0}")]
    Permission(String),
    #[error("transient failure after retries: {0}")]
    Transient(String),
    #[error("partial failure: {0}")]
    Partial(String),
    /// Only with `[run] exit_99_when_nothing_to_do = true`.
    #[error("nothing to do: {0}")]
    NothingToDo(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    /// 0 ok · 1 partial · 2 config/usage · 3 auth · 4 permission · 5 transient · 99 nothing to do.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            Error::Partial(_) => 1,
            Error::Auth(_) => 3,
            Error::Permission(_) => 4,
            Error::Transient(_) | Error::Io { .. } => 5,
            Error::NothingToDo(_) => 99,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
