//! The tray icon keeps the app reachable while its window is closed, and says at a glance
//! whether anything is running or the last job failed.
//!
//! What the menu shows comes from [`TrayView::of`], a pure function of the core's
//! [`Activity`], so it is unit-tested without a desktop; this module only renders it.

use std::sync::Arc;
use std::time::Duration;

use hypersdk_core::model::{Activity, JobState};
use hypersdk_core::{Core, CoreEvent};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

const TRAY_ID: &str = "main";
const SHOW: &str = "show";
const ACTIVITY: &str = "activity";
const QUIT: &str = "quit";
const BASE_ICON: &[u8] = include_bytes!("../../icons/tray.png");

/// How the tray looks for a given activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub badge: Badge,
    pub tooltip: String,
    /// The disabled status line in the menu.
    pub status: String,
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
    pub fn of(a: &Activity) -> TrayView {
        let plural = |n: u32, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        let (badge, status) = if a.running > 0 || a.queued > 0 {
            let mut s = format!("{} running", plural(a.running, "job"));
            if a.queued > 0 {
                s.push_str(&format!(", {} queued", a.queued));
            }
            (Badge::Running, s)
        } else if a.last_outcome == Some(JobState::Failed) {
            (Badge::Failed, "Last job failed".to_owned())
        } else {
            (Badge::Idle, "No jobs running".to_owned())
        };
        TrayView {
            badge,
            tooltip: format!("HyperSDK Desktop — {status}"),
            status,
        }
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
    let view = TrayView::of(&Activity::default());
    let menu = build_menu(app, &view)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_for(view.badge)?)
        .tooltip(&view.tooltip)
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            SHOW => show_main_window(app),
            QUIT => request_quit(app),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main_window(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(())
}

fn build_menu(app: &AppHandle, view: &TrayView) -> tauri::Result<Menu<Wry>> {
    Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, SHOW, "Open dashboard", true, None::<&str>)?,
            &MenuItem::with_id(app, ACTIVITY, &view.status, false, None::<&str>)?,
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
                Ok(CoreEvent::JobUpdated { .. }) => break,
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
    let view = TrayView::of(&activity);
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

pub fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        // Best effort: a window manager may refuse focus; the window is
        // still shown.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_says_what_is_going_on() {
        let idle = TrayView::of(&Activity::default());
        assert_eq!(
            (idle.badge, idle.status.as_str()),
            (Badge::Idle, "No jobs running")
        );
        let busy = TrayView::of(&Activity {
            running: 2,
            queued: 1,
            ..Activity::default()
        });
        assert_eq!(busy.badge, Badge::Running);
        assert_eq!(busy.status, "2 jobs running, 1 queued");
        assert_eq!(busy.tooltip, "HyperSDK Desktop — 2 jobs running, 1 queued");
        let one = TrayView::of(&Activity {
            running: 1,
            last_outcome: Some(JobState::Failed),
            ..Activity::default()
        });
        assert_eq!(
            (one.badge, one.status.as_str()),
            (Badge::Running, "1 job running")
        );
        let failed = TrayView::of(&Activity {
            last_outcome: Some(JobState::Failed),
            ..Activity::default()
        });
        assert_eq!(failed.badge, Badge::Failed);
        let recovered = TrayView::of(&Activity {
            last_outcome: Some(JobState::Succeeded),
            ..Activity::default()
        });
        assert_eq!(recovered.badge, Badge::Idle);
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
