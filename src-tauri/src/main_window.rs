//! The dashboard window: created on demand, and released when it is closed.
//!
//! The app lives in the tray for days. A hidden window would keep its WebKit web process (and
//! everything the page ever allocated) for all that time, so closing the window destroys it, and
//! the tray, a second launch or `show_window` builds it again from the configuration. The page
//! holds no state of its own that the core does not keep, so a new window shows everything.
//!
//! A section can be asked for (`--section jobs` on the command line, also handed over by a
//! second launch): the window opens on it, or an open window switches to it.

use tauri::{AppHandle, Manager, WebviewWindowBuilder};

/// The window's label in `tauri.conf.json` (which does not create it: `"create": false`).
pub const LABEL: &str = "main";

/// The sections the page knows (`ui/src/store/navigation.ts`); anything else is ignored.
const SECTIONS: [&str; 7] = [
    "dashboard",
    "inventory",
    "jobs",
    "schedules",
    "connections",
    "webhooks",
    "settings",
];

/// The section named by `--section NAME` or `--section=NAME` in `args`, if it is one.
pub fn section_arg<S: AsRef<str>>(args: &[S]) -> Option<&'static str> {
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--section") {
            Some("") => it.next(),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(v) = value {
            return SECTIONS.iter().copied().find(|s| *s == v);
        }
    }
    None
}

/// Shows the window (building it if it was closed), on `section` when given.
pub fn show(app: &AppHandle, section: Option<&'static str>) {
    if let Some(window) = app.get_webview_window(LABEL) {
        if let Some(s) = section {
            // `s` is one of SECTIONS: a fixed identifier, never text from outside.
            let _ = window.eval(format!("window.location.hash = '{s}'"));
        }
        // Best effort: a window manager may refuse focus; the window is still shown.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    if let Err(e) = build(app, section) {
        tracing::error!(error = %e, "cannot open the window");
    }
}

fn build(app: &AppHandle, section: Option<&'static str>) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == LABEL)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let mut builder = WebviewWindowBuilder::from_config(app, &config)?;
    if let Some(s) = section {
        // Before the page's own scripts run, so it starts on that section.
        builder = builder.initialization_script(format!("history.replaceState(null, '', '#{s}');"));
    }
    builder.build().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_sections_are_taken_from_the_command_line() {
        assert_eq!(section_arg(&["app", "--section", "jobs"]), Some("jobs"));
        assert_eq!(
            section_arg(&["app", "--section=dashboard"]),
            Some("dashboard")
        );
        assert_eq!(section_arg(&["app", "--section", "x'; alert(1); '"]), None);
        assert_eq!(section_arg(&["app", "--sections", "jobs"]), None);
        assert_eq!(section_arg(&["app", "--in-tray"]), None);
        assert_eq!(section_arg::<&str>(&[]), None);
    }
}
