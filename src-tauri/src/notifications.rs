//! Desktop notifications: how each scheduled run went (as the user chose in Settings), and a
//! one-time hint that closing the window keeps the app in the tray.

use std::sync::Arc;

use hypersdk_core::model::NotifyRuns;
use hypersdk_core::schedules::{ExecutionStatus, ScheduleExecution};
use hypersdk_core::{Core, CoreEvent};
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// Title and body for a finished run, or `None` when the setting says to stay quiet.
pub fn run_message(run: &ScheduleExecution, policy: NotifyRuns) -> Option<(String, String)> {
    run.finished_at?;
    let failed = match run.status {
        ExecutionStatus::Succeeded => false,
        ExecutionStatus::Failed | ExecutionStatus::Partial => true,
        // Skips are recorded in the history; a notification for each would be noise.
        ExecutionStatus::Skipped | ExecutionStatus::Running => return None,
    };
    match (policy, failed) {
        (NotifyRuns::Never, _) | (NotifyRuns::FailuresOnly, false) => return None,
        _ => {}
    }
    let title = match run.status {
        ExecutionStatus::Succeeded => format!("Backup \"{}\" succeeded", run.schedule_name),
        ExecutionStatus::Partial => format!("Backup \"{}\" partly failed", run.schedule_name),
        _ => format!("Backup \"{}\" failed", run.schedule_name),
    };
    let body = match (&run.reason, run.status) {
        (Some(reason), ExecutionStatus::Failed | ExecutionStatus::Partial) => reason.clone(),
        _ => {
            let n = run.artefacts.len();
            format!(
                "{n} VM{} exported{}",
                if n == 1 { "" } else { "s" },
                run.run_dir
                    .as_deref()
                    .map(|d| format!(" to {d}"))
                    .unwrap_or_default()
            )
        }
    };
    Some((title, body))
}

fn show(app: &AppHandle, title: &str, body: &str) {
    // Best effort: a desktop without a notification daemon must not break anything.
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::debug!(error = %e, "notification not shown");
    }
}

/// Follows finished schedule runs and notifies per the desktop settings.
pub async fn follow_runs(app: AppHandle, core: Arc<Core>) {
    let mut events = core.events().subscribe();
    loop {
        match events.recv().await {
            Ok(CoreEvent::ScheduleRun { run }) => {
                let policy = core
                    .desktop_settings()
                    .await
                    .map(|s| s.notify_runs)
                    .unwrap_or_default();
                if let Some((title, body)) = run_message(&run, policy) {
                    show(&app, &title, &body);
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The first time the window is closed: say the app (and its schedules) keep running.
pub fn close_hint(app: &AppHandle, core: Arc<Core>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if core.take_close_hint().await.unwrap_or(false) {
            show(
                &app,
                "HyperSDK Desktop is still running",
                "Scheduled backups and running exports continue. Open it again from the tray \
                 icon; Quit is in the tray menu.",
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypersdk_core::schedules::RunTrigger;

    fn run(status: ExecutionStatus, finished: bool) -> ScheduleExecution {
        let now = chrono::Utc::now();
        ScheduleExecution {
            id: 1,
            schedule_id: "s".into(),
            schedule_name: "nightly".into(),
            trigger: RunTrigger::Scheduled,
            scheduled_for: now,
            started_at: now,
            finished_at: finished.then_some(now),
            status,
            reason: (status != ExecutionStatus::Succeeded).then(|| "web01: unreachable".into()),
            run_dir: Some("/backups/nightly/20261127-020000".into()),
            job_ids: vec!["j".into()],
            artefacts: vec!["/backups/nightly/20261127-020000/web01.ova".into()],
            leftovers: Vec::new(),
            pruned_at: None,
        }
    }

    #[test]
    fn notifications_follow_the_setting() {
        use ExecutionStatus::*;
        let ok = run(Succeeded, true);
        let (title, body) = run_message(&ok, NotifyRuns::Always).expect("always");
        assert_eq!(title, "Backup \"nightly\" succeeded");
        assert_eq!(body, "1 VM exported to /backups/nightly/20261127-020000");
        assert_eq!(run_message(&ok, NotifyRuns::FailuresOnly), None);
        assert_eq!(run_message(&ok, NotifyRuns::Never), None);
        let bad = run(Failed, true);
        let (title, body) = run_message(&bad, NotifyRuns::FailuresOnly).expect("failures");
        assert_eq!(title, "Backup \"nightly\" failed");
        assert_eq!(body, "web01: unreachable");
        assert_eq!(run_message(&bad, NotifyRuns::Never), None);
        assert!(run_message(&run(Partial, true), NotifyRuns::FailuresOnly).is_some());
        assert_eq!(run_message(&run(Skipped, true), NotifyRuns::Always), None);
        assert_eq!(run_message(&run(Running, false), NotifyRuns::Always), None);
    }
}
