//! The tray icon keeps the app reachable while its window is closed, and says at a glance
//! whether anything is running or the last job failed.
//!
//! What the menu shows comes from [`TrayView::of`], a pure function of the core's
//! [`Activity`] and scheduler status, so it is unit-tested without a desktop; this module only
//! renders it. Every menu action is also a command (`show_window`, `run_schedule_now`,
//! `pause_schedules`, `resume_schedules`, `quit_app`), so tests can drive them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use hypersdk_core::model::{Activity, JobState};
use hypersdk_core::schedules::SchedulerStatus;
use hypersdk_core::{Core, CoreEvent};
use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

const TRAY_ID: &str = "main";
const SHOW: &str = "show";
const ACTIVITY: &str = "activity";
const NEXT: &str = "next";
const PAUSE: &str = "pause";
const RESUME: &str = "resume";
const RUN_PREFIX: &str = "run:";
const QUIT: &str = "quit";
const BASE_ICON: &[u8] = include_bytes!("../../icons/tray.png");

/// How the tray looks for a given activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub badge: Badge,
    pub tooltip: String,
    /// The disabled status line in the menu.
    pub status: String,
    /// The disabled "next backup" line.
    pub next: String,
    pub paused: bool,
    /// Enabled schedules for "Run now ▸": (id, name).
    pub run_now: Vec<(String, String)>,
}

/// What the tray knows about schedules.
#[derive(Debug, Clone, Default)]
pub struct ScheduleState {
    pub status: Option<SchedulerStatus>,
    pub schedules: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    Idle,
    Running,
    Failed,
}

impl Badge {
    /// RGB of the dot drawn on the icon's corner; `None` for the plain icon.
    fn color(self) -> Option<[u8; 3]> {
        match self {
            Badge::Idle => None,
            Badge::Running => Some([0x22, 0x8b, 0xe6]),
            Badge::Failed => Some([0xe0, 0x31, 0x31]),
        }
    }
}

impl TrayView {
    pub fn of(a: &Activity, sched: &ScheduleState, now: DateTime<Utc>) -> TrayView {
        let plural = |n: u32, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let runs = sched.status.as_ref().map_or(0, |s| s.running.len());
        let run_failed = sched.status.as_ref().is_some_and(|s| s.last_run_failed);
        let paused = sched.status.as_ref().is_some_and(|s| s.paused);
        let (badge, status) = if a.running > 0 || a.queued > 0 || runs > 0 {
            let mut s = format!("{} running", plural(a.running, "job"));
            if a.queued > 0 {
                s.push_str(&format!(", {} queued", a.queued));
            }
            (Badge::Running, s)
        } else if a.last_outcome == Some(JobState::Failed) || run_failed {
            let what = if run_failed {
                "Last backup failed"
            } else {
                "Last job failed"
            };
            (Badge::Failed, what.to_owned())
        } else {
            (Badge::Idle, "No jobs running".to_owned())
        };
        let next = if paused {
            "Backups paused".to_owned()
        } else {
            match sched.status.as_ref().and_then(|s| s.next.as_ref()) {
                Some(n) => format!("Next backup: {} {}", n.schedule_name, when(n.at, now)),
                None => "No backups scheduled".to_owned(),
            }
        };
        TrayView {
            badge,
            tooltip: format!("HyperSDK Desktop — {status}; {}", next.to_lowercase()),
            status,
            next,
            paused,
            run_now: sched.schedules.clone(),
        }
    }
}

/// "at 02:00", "tomorrow at 02:00" or "on Mon 1 Dec at 02:00", in local time.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (at, now) = (at.with_timezone(&Local), now.with_timezone(&Local));
    let time = at.format("%H:%M");
    let days = (at.date_naive() - now.date_naive()).num_days();
    match days {
        ..=0 => format!("at {time}"),
        1 => format!("tomorrow at {time}"),
        _ => format!("on {} at {time}", at.format("%a %-d %b")),
    }
}

/// The tray icon with a status dot in its lower-right corner (RGBA, row-major).
fn badged(rgba: &[u8], width: u32, height: u32, color: [u8; 3]) -> Vec<u8> {
    let mut out = rgba.to_vec();
    let r = (width.min(height) as f32) * 0.22;
    let (cx, cy) = (width as f32 - r - 0.5, height as f32 - r - 0.5);
    for y in 0..height {
        for x in 0..width {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let d = (dx * dx + dy * dy).sqrt();
            let i = ((y * width + x) * 4) as usize;
            if d <= r && i + 3 < out.len() {
                out[i..i + 3].copy_from_slice(&color);
                out[i + 3] = 255;
            } else if d <= r + 1.5 && i + 3 < out.len() {
                // A transparent ring keeps the dot readable on any icon colour.
                out[i + 3] = 0;
            }
        }
    }
    out
}

fn icon_for(badge: Badge) -> tauri::Result<Image<'static>> {
    let base = Image::from_bytes(BASE_ICON)?;
    Ok(match badge.color() {
        None => base.to_owned(),
        Some(c) => Image::new_owned(
            badged(base.rgba(), base.width(), base.height(), c),
            base.width(),
            base.height(),
        ),
    })
}

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let view = TrayView::of(&Activity::default(), &ScheduleState::default(), Utc::now());
    let menu = build_menu(app, &view)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_for(view.badge)?)
        .tooltip(&view.tooltip)
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            SHOW => crate::main_window::show(app, None),
            QUIT => request_quit(app),
            PAUSE => with_core(app, |core| async move {
                core.pause_schedules().await.map(|_| ())
            }),
            RESUME => with_core(app, |core| async move {
                core.resume_schedules().await.map(|_| ())
            }),
            id => {
                if let Some(schedule) = id.strip_prefix(RUN_PREFIX) {
                    let schedule = schedule.to_owned();
                    with_core(app, move |core| async move {
                        core.run_schedule_now(&schedule).await.map(|_| ())
                    });
                }
            }
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::main_window::show(tray.app_handle(), None);
            }
        })
        .build(app)?;
    Ok(())
}

/// Runs a core action from a menu click; failures are logged (the window shows the state).
fn with_core<F, Fut>(app: &AppHandle, action: F)
where
    F: FnOnce(Arc<Core>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = hypersdk_core::Result<()>> + Send,
{
    let Some(core) = app
        .try_state::<crate::state::AppState>()
        .and_then(|s| s.core_arc())
    else {
        return;
    };
    tauri::async_runtime::spawn(async move {
        if let Err(e) = action(core).await {
            tracing::warn!(error = %e, "tray action failed");
        }
    });
}

fn build_menu(app: &AppHandle, view: &TrayView) -> tauri::Result<Menu<Wry>> {
    let run_items: Vec<MenuItem<Wry>> = view
        .run_now
        .iter()
        .map(|(id, name)| {
            MenuItem::with_id(app, format!("{RUN_PREFIX}{id}"), name, true, None::<&str>)
        })
        .collect::<tauri::Result<_>>()?;
    let run_refs: Vec<&dyn IsMenuItem<Wry>> = run_items
        .iter()
        .map(|i| i as &dyn IsMenuItem<Wry>)
        .collect();
    let run_now = Submenu::with_items(app, "Run now", !run_refs.is_empty(), &run_refs)?;
    let (toggle_id, toggle_label) = if view.paused {
        (RESUME, "Resume all backups")
    } else {
        (PAUSE, "Pause all backups")
    };
    Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, SHOW, "Open dashboard", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, ACTIVITY, &view.status, false, None::<&str>)?,
            &MenuItem::with_id(app, NEXT, &view.next, false, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &run_now,
            &MenuItem::with_id(app, toggle_id, toggle_label, true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?,
        ],
    )
}

/// Keeps the tray in step with the jobs: re-reads the activity after job changes (coalesced,
/// so a burst of updates costs one query).
pub async fn follow(app: AppHandle, core: Arc<Core>) {
    let mut events = core.events().subscribe();
    let mut shown: Option<TrayView> = None;
    loop {
        if let Err(e) = refresh(&app, &core, &mut shown).await {
            tracing::warn!(error = %e, "cannot update the tray");
        }
        // Wait for a job change (or a lag, after which the store is re-read anyway).
        loop {
            match events.recv().await {
                Ok(
                    CoreEvent::JobUpdated { .. }
                    | CoreEvent::ScheduleChanged { .. }
                    | CoreEvent::ScheduleRun { .. },
                ) => break,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn refresh(app: &AppHandle, core: &Core, shown: &mut Option<TrayView>) -> Result<(), String> {
    let activity = core.activity().await.map_err(|e| e.to_string())?;
    let sched = ScheduleState {
        status: core.scheduler_status().await.ok(),
        schedules: core
            .list_schedules()
            .await
            .map(|list| {
                list.into_iter()
                    .filter(|s| s.enabled)
                    .map(|s| (s.id, s.name))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let view = TrayView::of(&activity, &sched, Utc::now());
    if shown.as_ref() == Some(&view) {
        return Ok(());
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return Ok(());
    };
    let menu = build_menu(app, &view).map_err(|e| e.to_string())?;
    tray.set_menu(Some(menu)).map_err(|e| e.to_string())?;
    tray.set_icon(Some(icon_for(view.badge).map_err(|e| e.to_string())?))
        .map_err(|e| e.to_string())?;
    tray.set_tooltip(Some(&view.tooltip))
        .map_err(|e| e.to_string())?;
    *shown = Some(view);
    Ok(())
}

/// Tray "Quit": asks first when jobs are running (they would become interrupted).
fn request_quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let running = match app.state::<crate::state::AppState>().core() {
            Ok(core) => core
                .activity()
                .await
                .map(|a| a.running + a.queued)
                .unwrap_or(0),
            Err(_) => 0,
        };
        if running == 0 {
            app.exit(0);
            return;
        }
        let handle = app.clone();
        app.dialog()
            .message(format!(
                "{running} job(s) are running. Quitting stops them; they will show as \
                 interrupted and can be retried."
            ))
            .title("Quit HyperSDK Desktop?")
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom(
                "Quit anyway".into(),
                "Keep running".into(),
            ))
            .show(move |quit| {
                if quit {
                    handle.exit(0);
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(a: &Activity) -> TrayView {
        TrayView::of(a, &ScheduleState::default(), Utc::now())
    }

    #[test]
    fn the_tray_says_what_is_going_on() {
        let idle = of(&Activity::default());
        assert_eq!(
            (idle.badge, idle.status.as_str()),
            (Badge::Idle, "No jobs running")
        );
        let busy = of(&Activity {
            running: 2,
            queued: 1,
            ..Activity::default()
        });
        assert_eq!(busy.badge, Badge::Running);
        assert_eq!(busy.status, "2 jobs running, 1 queued");
        assert_eq!(
            busy.tooltip,
            "HyperSDK Desktop — 2 jobs running, 1 queued; no backups scheduled"
        );
        let one = of(&Activity {
            running: 1,
            last_outcome: Some(JobState::Failed),
            ..Activity::default()
        });
        assert_eq!(
            (one.badge, one.status.as_str()),
            (Badge::Running, "1 job running")
        );
        let failed = of(&Activity {
            last_outcome: Some(JobState::Failed),
            ..Activity::default()
        });
        assert_eq!(failed.badge, Badge::Failed);
        let recovered = of(&Activity {
            last_outcome: Some(JobState::Succeeded),
            ..Activity::default()
        });
        assert_eq!(recovered.badge, Badge::Idle);
    }

    #[test]
    fn schedules_show_next_backup_pause_and_run_now() {
        use hypersdk_core::schedules::NextRun;
        let now = Utc::now();
        let at = now + chrono::Duration::minutes(1);
        let mut sched = ScheduleState {
            status: Some(SchedulerStatus {
                paused: false,
                active_here: true,
                running: Vec::new(),
                next: Some(NextRun {
                    schedule_id: "s1".into(),
                    schedule_name: "nightly".into(),
                    at,
                }),
                last_run_failed: false,
            }),
            schedules: vec![("s1".into(), "nightly".into())],
        };
        let view = TrayView::of(&Activity::default(), &sched, now);
        assert!(
            view.next.starts_with("Next backup: nightly "),
            "{}",
            view.next
        );
        assert_eq!(view.run_now, vec![("s1".to_owned(), "nightly".to_owned())]);
        assert!(!view.paused);
        if let Some(st) = sched.status.as_mut() {
            st.paused = true;
            st.last_run_failed = true;
        }
        let view = TrayView::of(&Activity::default(), &sched, now);
        assert_eq!(view.next, "Backups paused");
        assert!(view.paused);
        assert_eq!(
            (view.badge, view.status.as_str()),
            (Badge::Failed, "Last backup failed")
        );
    }

    #[test]
    fn times_read_relative_to_today() {
        let now = Local::now().with_timezone(&Utc);
        let tomorrow = now + chrono::Duration::days(1);
        assert!(when(tomorrow, now).starts_with("tomorrow at "));
        assert!(when(now + chrono::Duration::days(3), now).starts_with("on "));
    }

    #[test]
    fn the_badge_colours_only_the_corner() {
        let (w, h) = (32u32, 32u32);
        let base = vec![10u8; (w * h * 4) as usize];
        let out = badged(&base, w, h, [1, 2, 3]);
        let px = |x: u32, y: u32| {
            let i = ((y * w + x) * 4) as usize;
            [out[i], out[i + 1], out[i + 2], out[i + 3]]
        };
        assert_eq!(px(27, 27), [1, 2, 3, 255], "dot in the corner");
        assert_eq!(px(2, 2), [10, 10, 10, 10], "rest untouched");
        assert_eq!(out.len(), base.len());
    }
}
