//! The one rule that turns stage outcomes into the run's exit code, and decides whether the
//! stages after extraction run (README "Exit codes").
//!
//! * **Which stages run.** Stages run in order. After an extraction that committed nothing
//!   (status `failed`: a refused key, an unwritable lake, every stream failing) the visitor load
//!   and the models are skipped: there is nothing new to model, and what stopped extraction
//!   would stop them too. After an extraction that committed some streams (status `partial`,
//!   whatever failed in the others: a permission, a transient error, both) they run, so the
//!   streams that did commit are modelled. A failed visitor load never stops the models: revenue
//!   and MRR do not wait for web data.
//! * **The exit code**, from the classes of every stage error: none → 0 (or 99 when every stage
//!   that ran found nothing to do and `[run] exit_99_when_nothing_to_do` is set); a refused key
//!   anywhere → 3; else a configuration or usage problem anywhere → 2; else one class throughout
//!   → that class (only missing permissions → 4, only transient → 5); a mix → 1.

use std::collections::BTreeSet;

use super::stage::{Stage, StageReport, Status};
use crate::error::{Error, ExitClass};

/// The run's outcome: its status, and the error (of exactly the exit code's class) it ends with.
#[derive(Debug)]
pub struct Verdict {
    pub status: Status,
    pub error: Option<Error>,
}

impl Verdict {
    pub fn exit_code(&self) -> u8 {
        self.error.as_ref().map_or(0, Error::exit_code)
    }
}

/// Whether the stages after those reported so far run.
pub fn later_stages_run(reports: &[StageReport]) -> bool {
    !reports
        .iter()
        .any(|r| r.stage == Stage::Extract && r.status == Status::Failed)
}

/// The exit class of a run whose stages failed with these classes; `None` when none failed.
pub fn exit_class(failures: &BTreeSet<ExitClass>) -> Option<ExitClass> {
    let mut classes = failures.iter().copied();
    let first = classes.next()?;
    Some(if failures.contains(&ExitClass::Auth) {
        ExitClass::Auth
    } else if failures.contains(&ExitClass::Usage) {
        ExitClass::Usage
    } else if classes.next().is_none() {
        first
    } else {
        ExitClass::Partial
    })
}

/// The verdict of a finished run.
pub fn verdict(reports: &[StageReport], exit_99_when_nothing_to_do: bool) -> Verdict {
    let failed: Vec<&StageReport> = reports.iter().filter(|r| r.error.is_some()).collect();
    let classes: BTreeSet<ExitClass> = failed
        .iter()
        .filter_map(|r| r.error.as_ref().map(Error::exit_class))
        .collect();
    let Some(class) = exit_class(&classes) else {
        let ran: Vec<&StageReport> = reports
            .iter()
            .filter(|r| r.status != Status::Skipped)
            .collect();
        let idle = !ran.is_empty() && ran.iter().all(|r| r.status == Status::NothingToDo);
        if idle && exit_99_when_nothing_to_do {
            let message = ran
                .iter()
                .map(|r| format!("{}: {}", r.stage.key(), idle_reason(r)))
                .collect::<Vec<_>>()
                .join("; ");
            return Verdict {
                status: Status::NothingToDo,
                error: Some(Error::NothingToDo(message)),
            };
        }
        return Verdict {
            status: Status::Ok,
            error: None,
        };
    };
    // A single failed stage keeps its own words; several are listed by stage.
    let message = match failed.as_slice() {
        [one] => one.error.as_ref().map(strip_class).unwrap_or_default(),
        many => many
            .iter()
            .map(|r| {
                let e = r.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
                format!("{}: {e}", r.stage.key())
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    let anything_committed = reports
        .iter()
        .any(|r| matches!(r.status, Status::Ok | Status::Partial));
    Verdict {
        status: if anything_committed {
            Status::Partial
        } else {
            Status::Failed
        },
        error: Some(Error::of_class(class, message)),
    }
}

/// An error's message without the prefix its class adds (`of_class` adds it again).
fn strip_class(e: &Error) -> String {
    match e {
        Error::Usage(m)
        | Error::Auth(m)
        | Error::Permission(m)
        | Error::Transient(m)
        | Error::Partial(m)
        | Error::NothingToDo(m) => m.clone(),
        other => other.to_string(),
    }
}

fn idle_reason(r: &StageReport) -> String {
    r.detail
        .get("reason")
        .and_then(|v| v.as_str())
        .unwrap_or("nothing new")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExitClass::{Auth, Partial, Permission, Transient, Usage};
    use serde_json::Map;

    /// Every set of failure classes and the exit code it must give, written out by hand from
    /// the rule in the module comment (not computed by it).
    const TABLE: &[(&[ExitClass], u8)] = &[
        (&[], 0),
        (&[Partial], 1),
        (&[Usage], 2),
        (&[Auth], 3),
        (&[Permission], 4),
        (&[Transient], 5),
        (&[Partial, Usage], 2),
        (&[Partial, Auth], 3),
        (&[Partial, Permission], 1),
        (&[Partial, Transient], 1),
        (&[Usage, Auth], 3),
        (&[Usage, Permission], 2),
        (&[Usage, Transient], 2),
        (&[Auth, Permission], 3),
        (&[Auth, Transient], 3),
        (&[Permission, Transient], 1),
        (&[Partial, Usage, Auth], 3),
        (&[Partial, Usage, Permission], 2),
        (&[Partial, Usage, Transient], 2),
        (&[Partial, Auth, Permission], 3),
        (&[Partial, Auth, Transient], 3),
        (&[Partial, Permission, Transient], 1),
        (&[Usage, Auth, Permission], 3),
        (&[Usage, Auth, Transient], 3),
        (&[Usage, Permission, Transient], 2),
        (&[Auth, Permission, Transient], 3),
        (&[Partial, Usage, Auth, Permission], 3),
        (&[Partial, Usage, Auth, Transient], 3),
        (&[Partial, Usage, Permission, Transient], 2),
        (&[Partial, Auth, Permission, Transient], 3),
        (&[Usage, Auth, Permission, Transient], 3),
        (&[Partial, Usage, Auth, Permission, Transient], 3),
    ];

    fn expected_code(classes: &BTreeSet<ExitClass>) -> u8 {
        TABLE
            .iter()
            .find(|(set, _)| set.iter().copied().collect::<BTreeSet<_>>() == *classes)
            .map(|(_, code)| *code)
            .unwrap_or_else(|| panic!("{classes:?} is not in the table"))
    }

    #[test]
    fn the_table_lists_every_set_of_classes_once() {
        assert_eq!(TABLE.len(), 32);
        let distinct: BTreeSet<Vec<ExitClass>> = TABLE
            .iter()
            .map(|(s, _)| {
                let mut v = s.to_vec();
                v.sort();
                v
            })
            .collect();
        assert_eq!(distinct.len(), 32);
    }

    /// An outcome a stage can have: its status and, when it failed, the class of its error.
    #[derive(Clone, Copy, Debug)]
    struct Outcome(Status, Option<ExitClass>);

    fn report(stage: Stage, o: Outcome) -> StageReport {
        let error = o.1.map(|c| Error::of_class(c, format!("{c:?}")));
        let mut r = match (o.0, error) {
            (Status::Ok, None) => StageReport::ok(stage, Map::new()),
            (Status::NothingToDo, None) => StageReport::nothing_to_do(stage, Map::new()),
            (Status::Skipped, None) => StageReport::skipped(stage, "no source"),
            (Status::Partial, Some(e)) => StageReport::partial(stage, e, Map::new()),
            (Status::Failed, Some(e)) => StageReport::failed(stage, e, Map::new()),
            other => panic!("not an outcome: {other:?}"),
        };
        r.seconds = 0.0;
        r
    }

    const EXTRACT: &[Outcome] = &[
        Outcome(Status::Ok, None),
        Outcome(Status::Partial, Some(Partial)),
        Outcome(Status::Partial, Some(Permission)),
        Outcome(Status::Partial, Some(Transient)),
        Outcome(Status::Failed, Some(Usage)),
        Outcome(Status::Failed, Some(Auth)),
        Outcome(Status::Failed, Some(Permission)),
        Outcome(Status::Failed, Some(Transient)),
        Outcome(Status::Failed, Some(Partial)),
    ];
    const VISITORS: &[Outcome] = &[
        Outcome(Status::Ok, None),
        Outcome(Status::Skipped, None),
        Outcome(Status::NothingToDo, None),
        Outcome(Status::Partial, Some(Partial)),
        Outcome(Status::Failed, Some(Usage)),
        Outcome(Status::Failed, Some(Transient)),
    ];
    const TRANSFORM: &[Outcome] = &[
        Outcome(Status::Ok, None),
        Outcome(Status::Partial, Some(Partial)),
        Outcome(Status::Failed, Some(Usage)),
        Outcome(Status::Failed, Some(Transient)),
    ];

    /// Whether the models run after each extraction outcome (by hand, from the rule).
    const MODELS_RUN_AFTER: &[bool] = &[true, true, true, true, false, false, false, false, false];

    /// Every combination of stage outcomes in `run`: which stages run, the exit code, and that
    /// the run's error is of the code it reports.
    #[test]
    fn every_combination_of_stage_outcomes() {
        let mut combinations = 0;
        for (e, extract) in EXTRACT.iter().enumerate() {
            for visitors in VISITORS {
                for transform in TRANSFORM {
                    let mut reports = vec![report(Stage::Extract, *extract)];
                    let runs = later_stages_run(&reports);
                    assert_eq!(runs, MODELS_RUN_AFTER[e], "after {extract:?}");
                    if runs {
                        reports.push(report(Stage::LoadVisitors, *visitors));
                        assert!(later_stages_run(&reports), "visitors never stop the models");
                        reports.push(report(Stage::Transform, *transform));
                    }
                    let ran: Vec<Outcome> = if runs {
                        vec![*extract, *visitors, *transform]
                    } else {
                        vec![*extract]
                    };
                    let classes: BTreeSet<ExitClass> = ran.iter().filter_map(|o| o.1).collect();
                    let v = verdict(&reports, false);
                    let context = format!("{extract:?} {visitors:?} {transform:?}");
                    assert_eq!(v.exit_code(), expected_code(&classes), "{context}");
                    let committed = ran
                        .iter()
                        .any(|o| matches!(o.0, Status::Ok | Status::Partial));
                    let status = match (v.exit_code(), committed) {
                        (0, _) => Status::Ok,
                        (_, true) => Status::Partial,
                        (_, false) => Status::Failed,
                    };
                    assert_eq!(v.status, status, "{context}");
                    combinations += 1;
                }
            }
        }
        assert_eq!(
            combinations,
            EXTRACT.len() * VISITORS.len() * TRANSFORM.len()
        );
    }

    #[test]
    fn nothing_to_do_is_99_only_when_asked_and_only_when_every_stage_was_idle() {
        let idle = || {
            vec![report(
                Stage::LoadVisitors,
                Outcome(Status::NothingToDo, None),
            )]
        };
        assert_eq!(verdict(&idle(), true).exit_code(), 99);
        assert_eq!(verdict(&idle(), true).status, Status::NothingToDo);
        assert_eq!(verdict(&idle(), false).exit_code(), 0);
        let mut busy = idle();
        busy.push(report(Stage::Transform, Outcome(Status::Ok, None)));
        assert_eq!(verdict(&busy, true).exit_code(), 0);
        let mut broken = idle();
        broken.push(report(
            Stage::Transform,
            Outcome(Status::Partial, Some(Partial)),
        ));
        assert_eq!(verdict(&broken, true).exit_code(), 1);
    }

    #[test]
    fn one_failed_stage_keeps_its_words_and_several_are_named() {
        let one = vec![
            report(Stage::Extract, Outcome(Status::Ok, None)),
            StageReport::partial(
                Stage::Transform,
                Error::Partial("1 of 50 models did not build: mrr_daily".into()),
                Map::new(),
            ),
        ];
        let v = verdict(&one, false);
        assert_eq!(
            v.error.map(|e| e.to_string()).as_deref(),
            Some("partial failure: 1 of 50 models did not build: mrr_daily")
        );
        let two = vec![
            report(Stage::Extract, Outcome(Status::Partial, Some(Permission))),
            report(Stage::Transform, Outcome(Status::Partial, Some(Partial))),
        ];
        let text = verdict(&two, false).error.map(|e| e.to_string());
        assert_eq!(
            text.as_deref(),
            Some(
                "partial failure: extract: missing permission: Permission; transform: partial \
                 failure: Partial"
            )
        );
    }
}
