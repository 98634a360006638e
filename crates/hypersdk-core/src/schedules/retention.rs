//! Which runs' files retention deletes, as a pure function, and the
//! deletion itself, which only ever touches paths recorded for the run.
//!
//! Only succeeded runs count as copies. A failed or partial run is never a
//! kept copy; its files (the VMs that did export, `.part` leftovers) stay
//! until a newer run has succeeded, so a bad night never deletes the only
//! backup there is.

use std::collections::HashSet;
use std::path::{Component, Path};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use super::model::Retention;

/// A finished run that still has files on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRef {
    pub id: i64,
    /// The fire time the run belongs to: what days, weeks and months are
    /// counted by.
    pub at: DateTime<Utc>,
    pub succeeded: bool,
}

/// The ids of the runs whose files should be deleted, newest first.
pub fn runs_to_prune(policy: &Retention, runs: &[RunRef], zone: Tz) -> Vec<i64> {
    let mut sorted: Vec<RunRef> = runs.to_vec();
    // Newest first; the id breaks ties between runs of the same second.
    sorted.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    let succeeded: Vec<&RunRef> = sorted.iter().filter(|r| r.succeeded).collect();
    let keep: HashSet<i64> = match *policy {
        Retention::KeepAll => return Vec::new(),
        Retention::KeepLast { count } => succeeded
            .iter()
            .take(count as usize)
            .map(|r| r.id)
            .collect(),
        Retention::Gfs {
            daily,
            weekly,
            monthly,
        } => {
            let mut keep = HashSet::new();
            let local = |r: &RunRef| r.at.with_timezone(&zone).date_naive();
            keep_newest_per_period(&succeeded, daily, &mut keep, |r| {
                let d = local(r);
                (d.year(), d.ordinal())
            });
            keep_newest_per_period(&succeeded, weekly, &mut keep, |r| {
                let w = local(r).iso_week();
                (w.year(), w.week())
            });
            keep_newest_per_period(&succeeded, monthly, &mut keep, |r| {
                let d = local(r);
                (d.year(), d.month())
            });
            keep
        }
    };
    let newest_success = succeeded.first().map(|r| (r.at, r.id));
    sorted
        .iter()
        .filter(|r| {
            if r.succeeded {
                !keep.contains(&r.id)
            } else {
                // Superseded once a newer run succeeded; kept otherwise.
                newest_success.is_some_and(|newest| (r.at, r.id) < newest)
            }
        })
        .map(|r| r.id)
        .collect()
}

/// Keeps the newest run of each of the newest `count` periods that have one
/// (restic's semantics: a week without backups does not use up a slot).
fn keep_newest_per_period<K: Eq + std::hash::Hash>(
    newest_first: &[&RunRef],
    count: u32,
    keep: &mut HashSet<i64>,
    period: impl Fn(&RunRef) -> K,
) {
    let mut seen = HashSet::new();
    for run in newest_first {
        if seen.len() >= count as usize {
            break;
        }
        if seen.insert(period(run)) {
            keep.insert(run.id);
        }
    }
}

/// Deletes one recorded path, which must lie inside the run's own folder
/// (a defence against a tampered or mistaken record: nothing outside the
/// folder the app created for the run is ever touched). A path already gone
/// counts as deleted.
pub fn delete_recorded(path: &Path, run_dir: &Path) -> std::io::Result<()> {
    let inside = path.starts_with(run_dir)
        && path != run_dir
        && !path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    if !inside {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not inside the run folder {}; left alone",
                path.display(),
                run_dir.display()
            ),
        ));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // `remove_dir_all` does not follow symlinks, so an OVF folder holding a
    // link cannot lead the deletion elsewhere.
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn ok(id: i64, s: &str) -> RunRef {
        RunRef {
            id,
            at: at(s),
            succeeded: true,
        }
    }

    fn bad(id: i64, s: &str) -> RunRef {
        RunRef {
            id,
            at: at(s),
            succeeded: false,
        }
    }

    fn sorted(mut v: Vec<i64>) -> Vec<i64> {
        v.sort_unstable();
        v
    }

    /// Nightly runs at 02:00 UTC for `days` days ending on 2026-11-26.
    fn nightly(days: i64) -> Vec<RunRef> {
        let last = at("2026-11-26T02:00:00Z");
        (0..days)
            .map(|i| RunRef {
                id: days - i,
                at: last - chrono::Duration::days(i),
                succeeded: true,
            })
            .collect()
    }

    #[test]
    fn keep_all_never_prunes() {
        assert!(runs_to_prune(&Retention::KeepAll, &nightly(100), Tz::UTC).is_empty());
    }

    #[test]
    fn keep_last_keeps_the_newest_successes() {
        let table: &[(u32, usize, Vec<i64>)] = &[
            (7, 10, vec![1, 2, 3]),
            (1, 3, vec![1, 2]),
            (5, 5, vec![]),
            (5, 2, vec![]),
        ];
        for (count, days, want) in table {
            let got = runs_to_prune(
                &Retention::KeepLast { count: *count },
                &nightly(*days as i64),
                Tz::UTC,
            );
            assert_eq!(sorted(got), *want, "keep {count} of {days}");
        }
    }

    #[test]
    fn failed_runs_are_not_copies_and_go_once_superseded() {
        let runs = vec![
            ok(1, "2026-11-20T02:00:00Z"),
            ok(2, "2026-11-21T02:00:00Z"),
            bad(3, "2026-11-22T02:00:00Z"),
            bad(4, "2026-11-23T02:00:00Z"),
            ok(5, "2026-11-24T02:00:00Z"),
            bad(6, "2026-11-25T02:00:00Z"),
        ];
        // Keep 2: the failures do not use up slots, so 2 and 5 stay; 3 and 4
        // are older than the newest success and go; 6 is newer and stays.
        let got = runs_to_prune(&Retention::KeepLast { count: 2 }, &runs, Tz::UTC);
        assert_eq!(sorted(got), vec![1, 3, 4]);
        // No success at all: nothing is deleted.
        let only_failures = vec![
            bad(1, "2026-11-20T02:00:00Z"),
            bad(2, "2026-11-21T02:00:00Z"),
        ];
        assert!(
            runs_to_prune(&Retention::KeepLast { count: 1 }, &only_failures, Tz::UTC).is_empty()
        );
    }

    #[test]
    fn gfs_selection_table() {
        // 2026-11-26 is a Thursday (ISO week 48).
        struct Case {
            what: &'static str,
            policy: Retention,
            runs: Vec<RunRef>,
            keep: Vec<i64>,
        }
        let gfs = |daily, weekly, monthly| Retention::Gfs {
            daily,
            weekly,
            monthly,
        };
        let cases = vec![
            Case {
                what: "7 daily of 10 nightly runs",
                policy: gfs(7, 0, 0),
                runs: nightly(10),
                keep: (4..=10).collect(),
            },
            Case {
                what: "7 daily + 4 weekly of 60 nightly runs: newest of each of 4 ISO weeks",
                policy: gfs(7, 4, 0),
                runs: nightly(60),
                // Daily: ids 54..=60 (Nov 20–26). Weekly: the newest run of
                // weeks 48 (Nov 26, id 60), 47 (Sun Nov 22, id 56), 46 (Nov 15,
                // id 49), 45 (Nov 8, id 42).
                keep: vec![42, 49, 54, 55, 56, 57, 58, 59, 60],
            },
            Case {
                what: "3 monthly of 100 nightly runs: newest of Nov, Oct, Sep",
                policy: gfs(0, 0, 3),
                runs: nightly(100),
                // Nov 26 (id 100), Oct 31 (id 74), Sep 30 (id 43).
                keep: vec![43, 74, 100],
            },
            Case {
                what: "two runs on one day: only the newer is that day's copy",
                policy: gfs(2, 0, 0),
                runs: vec![
                    ok(1, "2026-11-25T02:00:00Z"),
                    ok(2, "2026-11-26T02:00:00Z"),
                    ok(3, "2026-11-26T14:00:00Z"),
                ],
                keep: vec![1, 3],
            },
            Case {
                what: "gaps do not use up slots",
                policy: gfs(2, 0, 0),
                runs: vec![
                    ok(1, "2026-11-01T02:00:00Z"),
                    ok(2, "2026-11-10T02:00:00Z"),
                    ok(3, "2026-11-20T02:00:00Z"),
                ],
                keep: vec![2, 3],
            },
            Case {
                what: "failed runs never fill a daily slot",
                policy: gfs(2, 0, 0),
                runs: vec![
                    ok(1, "2026-11-24T02:00:00Z"),
                    ok(2, "2026-11-25T02:00:00Z"),
                    bad(3, "2026-11-26T02:00:00Z"),
                ],
                keep: vec![1, 2, 3],
            },
        ];
        for case in cases {
            let ids: Vec<i64> = case.runs.iter().map(|r| r.id).collect();
            let pruned = runs_to_prune(&case.policy, &case.runs, Tz::UTC);
            let kept: Vec<i64> = ids.into_iter().filter(|id| !pruned.contains(id)).collect();
            assert_eq!(sorted(kept), case.keep, "{}", case.what);
        }
    }

    #[test]
    fn gfs_days_are_counted_in_the_schedules_zone() {
        // 23:30 and 00:30 New York time are two local days, although both are
        // on 2026-11-26 in UTC.
        let runs = vec![ok(1, "2026-11-26T04:30:00Z"), ok(2, "2026-11-26T05:30:00Z")];
        let policy = Retention::Gfs {
            daily: 2,
            weekly: 0,
            monthly: 0,
        };
        assert!(runs_to_prune(&policy, &runs, chrono_tz::America::New_York).is_empty());
        // In UTC they are one day, so the older is not that day's copy.
        assert_eq!(runs_to_prune(&policy, &runs, Tz::UTC), vec![1]);
        let one_day = Retention::Gfs {
            daily: 1,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(runs_to_prune(&one_day, &runs, Tz::UTC), vec![1]);
        assert_eq!(
            runs_to_prune(&one_day, &runs, chrono_tz::America::New_York),
            vec![1]
        );
    }

    #[test]
    fn deletion_stays_inside_the_run_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let run = tmp.path().join("nightly").join("20261126-020000");
        std::fs::create_dir_all(run.join("db01")).expect("mkdir");
        std::fs::write(run.join("web01.ova"), b"x").expect("write");
        std::fs::write(run.join("db01").join("db01.ovf"), b"x").expect("write");
        let outside = tmp.path().join("keep.txt");
        std::fs::write(&outside, b"mine").expect("write");

        delete_recorded(&run.join("web01.ova"), &run).expect("file");
        delete_recorded(&run.join("db01"), &run).expect("folder");
        delete_recorded(&run.join("gone.ova"), &run).expect("already gone");
        assert!(delete_recorded(&outside, &run).is_err());
        assert!(delete_recorded(&run.join("..").join("..").join("keep.txt"), &run).is_err());
        assert!(delete_recorded(&run, &run).is_err());
        assert!(outside.exists());
        assert_eq!(std::fs::read_dir(&run).expect("list").count(), 0);
    }
}
