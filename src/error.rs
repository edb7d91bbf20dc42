//! Errors and the exit codes Airflow reads (DESIGN.md §7, README "Exit codes").
//!
//! Errors stay typed, with their sources, until the edge: [`Error::exit_class`] decides a code
//! from the variant (and, for wrapped errors, from what they wrap), and `main` prints the message.

use thiserror::Error;

use crate::storage::StorageError;
use crate::stripe::StripeError;
use crate::transform::TransformError;
use crate::visitors::VisitorError;

/// What an exit code tells the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// 1: some streams, models or files failed; the rest committed. Retrying will not help.
    Partial,
    /// 2: configuration or usage: a person has to change something.
    Usage,
    /// 3: the key was refused (revoked or mistyped).
    Auth,
    /// 4: the restricted key lacks a permission (named).
    Permission,
    /// 5: still failing after the built-in retries: Airflow should retry later.
    Transient,
    /// 99: nothing to do (only with `[run] exit_99_when_nothing_to_do = true`).
    NothingToDo,
}

impl ExitClass {
    pub const ALL: [ExitClass; 6] = [
        ExitClass::Partial,
        ExitClass::Usage,
        ExitClass::Auth,
        ExitClass::Permission,
        ExitClass::Transient,
        ExitClass::NothingToDo,
    ];

    pub fn code(self) -> u8 {
        match self {
            ExitClass::Partial => 1,
            ExitClass::Usage => 2,
            ExitClass::Auth => 3,
            ExitClass::Permission => 4,
            ExitClass::Transient => 5,
            ExitClass::NothingToDo => 99,
        }
    }
}

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
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Visitors(#[from] VisitorError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl Error {
    /// The class of the exit code this error ends a command with.
    pub fn exit_class(&self) -> ExitClass {
        match self {
            Error::Config(_) | Error::Usage(_) => ExitClass::Usage,
            Error::Partial(_) => ExitClass::Partial,
            Error::Auth(_) => ExitClass::Auth,
            Error::Permission(_) => ExitClass::Permission,
            Error::Transient(_) | Error::Io { .. } => ExitClass::Transient,
            Error::NothingToDo(_) => ExitClass::NothingToDo,
            Error::Storage(e) => storage_class(e),
            Error::Stripe(e) => stripe_class(e),
            Error::Extract(crate::extract::ExtractError::Stripe(e)) => stripe_class(e),
            Error::Extract(crate::extract::ExtractError::Storage(e)) => storage_class(e),
            Error::Transform(e) => transform_class(e),
            Error::Visitors(VisitorError::Storage(e)) => storage_class(e),
            Error::Visitors(VisitorError::Unavailable { .. }) => ExitClass::Transient,
            Error::Visitors(_) => ExitClass::Usage,
            Error::Report(e) => report_class(e),
        }
    }

    /// 0 ok · 1 partial · 2 config/usage · 3 auth · 4 permission · 5 transient · 99 nothing to do.
    pub fn exit_code(&self) -> u8 {
        self.exit_class().code()
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The error a whole run ends with, of exactly `class` (so the summary's exit code and the
    /// process's are one number).
    pub fn of_class(class: ExitClass, message: String) -> Error {
        match class {
            ExitClass::Partial => Error::Partial(message),
            ExitClass::Usage => Error::Usage(message),
            ExitClass::Auth => Error::Auth(message),
            ExitClass::Permission => Error::Permission(message),
            ExitClass::Transient => Error::Transient(message),
            ExitClass::NothingToDo => Error::NothingToDo(message),
        }
    }
}

fn storage_class(e: &StorageError) -> ExitClass {
    match e {
        StorageError::Url { .. } | StorageError::Inaccessible { .. } => ExitClass::Usage,
        StorageError::Corrupt { .. } | StorageError::Parquet { .. } => ExitClass::Partial,
        e if e.is_transient() => ExitClass::Transient,
        // Permissions, credentials, a full disk: a person has to act.
        _ => ExitClass::Usage,
    }
}

fn stripe_class(e: &StripeError) -> ExitClass {
    match e {
        StripeError::Auth { .. } => ExitClass::Auth,
        StripeError::Permission { .. } => ExitClass::Permission,
        StripeError::Exhausted { .. } | StripeError::Unreachable { .. } => ExitClass::Transient,
        StripeError::Setup(_) => ExitClass::Usage,
        StripeError::NotFound { .. } | StripeError::Api { .. } => ExitClass::Partial,
    }
}

fn report_class(e: &crate::report::ReportError) -> ExitClass {
    use crate::report::ReportError;
    match e {
        ReportError::NoMarts(_) | ReportError::AsOf { .. } | ReportError::Stale(_) => {
            ExitClass::Usage
        }
        ReportError::Transform(e) => transform_class(e),
        // Reading committed marts fails when the store does (as in the transform): retry later.
        ReportError::Query(_) => ExitClass::Transient,
        ReportError::Write { .. } => ExitClass::Usage,
    }
}

fn transform_class(e: &TransformError) -> ExitClass {
    match e {
        TransformError::Graph(_) => ExitClass::Usage,
        TransformError::Storage(e) => storage_class(e),
        TransformError::Model { .. } | TransformError::Grain(_) | TransformError::Check(_) => {
            ExitClass::Partial
        }
        TransformError::Query(_) | TransformError::AsOf(_) => ExitClass::Usage,
        // Registering tables reads the lake: what fails there is the store, retried later.
        TransformError::Setup(_) | TransformError::DataFusion(_) => ExitClass::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_error_of_a_class_exits_with_that_class() {
        for class in ExitClass::ALL {
            assert_eq!(Error::of_class(class, "x".into()).exit_class(), class);
        }
        let codes: Vec<u8> = ExitClass::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 99]);
    }

    #[test]
    fn wrapped_errors_keep_their_class() {
        let auth = Error::from(StripeError::Auth {
            status: 401,
            message: "Invalid API Key provided: rk_test_***".into(),
        });
        assert_eq!(auth.exit_code(), 3);
        let url = Error::from(StorageError::Url {
            url: "ftp://x".into(),
            message: "unsupported".into(),
        });
        assert_eq!(url.exit_code(), 2);
        let graph = Error::from(TransformError::Graph(
            crate::transform::models::GraphError::Unknown {
                name: "x".into(),
                known: "y".into(),
            },
        ));
        assert_eq!(graph.exit_code(), 2);
        let unreadable = Error::from(VisitorError::Format {
            file: "a.csv".into(),
            message: "not CSV".into(),
        });
        assert_eq!(unreadable.exit_code(), 2);
    }
}
