//! HyperSDK Desktop's Tauri shell: opens the core, serves its commands to
//! the window, forwards its events, and keeps a tray icon. No domain logic
//! lives here.

pub mod bindings;
mod commands;
mod events;
mod main_window;
mod notifications;
mod state;
mod tray;

use std::sync::Arc;

use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::{ApiError, Core, Paths, logging};
use tauri::{Manager, RunEvent, WindowEvent};

use state::AppState;

/// The providers this build can browse and export; each provider crate
/// registers its factory here as it lands.
fn providers() -> ProviderRegistry {
    let mut registry = ProviderRegistry::default();
    registry.register(Arc::new(hypersdk_vsphere::VsphereFactory::default()));
    registry.register(Arc::new(hypersdk_proxmox::ProxmoxFactory::default()));
    registry.register(Arc::new(hypersdk_aws::AwsFactory::default()));
    registry
}

fn open_core() -> (AppState, Option<logging::Guard>) {
    let paths = match Paths::resolve() {
        Ok(p) => p,
        Err(e) => {
            return (
                AppState::Failed {
                    error: ApiError::verbatim(&e),
                    paths: None,
                },
                None,
            );
        }
    };
    // Logging first, so a failure to open the database is in the log too.
    let guard = paths
        .create_dirs()
        .and_then(|()| logging::init(&paths.log_dir, "hypersdk-desktop", "info"))
        .map_err(|e| eprintln!("hypersdk-desktop: logging disabled: {e}"))
        .ok();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %paths.data_dir.display(), "starting");
    let state = match Core::open(paths.clone(), providers()) {
        Ok(core) => AppState::Ready(Arc::new(core)),
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "cannot open HyperSDK state");
            AppState::Failed {
                error: ApiError::verbatim(&e),
                paths: Some(paths),
            }
        }
    };
    (state, guard)
}

/// How long after start-up the integrity check waits, so it does not compete with the
/// window's first queries on a small machine.
const INTEGRITY_CHECK_DELAY: std::time::Duration = std::time::Duration::from_secs(10);

/// Opening reads only the header and schema (the full check takes about a second at 100,000
/// jobs); damage inside the file is looked for once per run, here, on a blocking thread with a
/// connection of its own, and logged. The window keeps working: most damage touches only some
/// rows, and the user decides what to do with the file.
async fn check_database(core: Arc<Core>) {
    tokio::time::sleep(INTEGRITY_CHECK_DELAY).await;
    match core.check_integrity().await {
        Ok(report) if report.ok => tracing::info!(
            path = %report.path.display(),
            elapsed_ms = report.elapsed_ms,
            "database integrity check passed"
        ),
        Ok(report) => tracing::error!(
            path = %report.path.display(),
            problems = ?report.problems,
            "the database is damaged (integrity check failed); restore it from a backup, \
             `hyperctl db check` lists the problems"
        ),
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "cannot check the database's integrity")
        }
    }
}

/// Keeps the log writer alive as long as the app.
struct LogGuard {
    _guard: Option<logging::Guard>,
}

/// Given by the login autostart entry: start hidden, in the tray.
pub const AUTOSTART_ARG: &str = "--in-tray";

pub fn run() {
    let specta = bindings::builder();
    let invoke_handler = specta.invoke_handler();

    let app = tauri::Builder::default()
        // Must be the first plugin: a second launch hands over and exits
        // before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!("second launch: showing the running instance");
            main_window::show(app, main_window::section_arg(&argv));
        }))
        // The native folder picker of the export dialog.
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        // "Start at login" (an XDG autostart entry on Linux); started hidden in the tray.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![AUTOSTART_ARG]),
        ))
        .invoke_handler(invoke_handler)
        .setup(move |app| {
            // Opened here, after the single-instance hand-over, so a second
            // launch never touches the database.
            let (state, log_guard) = open_core();
            app.manage(state);
            app.manage(LogGuard { _guard: log_guard });
            specta.mount_events(app);
            tray::install(app.handle())?;
            // Started at login: only the tray until the user opens the window.
            let args: Vec<String> = std::env::args().collect();
            if !args.iter().any(|a| a == AUTOSTART_ARG) {
                main_window::show(app.handle(), main_window::section_arg(&args));
            }
            if let AppState::Ready(core) = app.state::<AppState>().inner() {
                tauri::async_runtime::spawn(events::forward(
                    app.handle().clone(),
                    Arc::clone(core),
                ));
                tauri::async_runtime::spawn(Arc::clone(core).run_background());
                tauri::async_runtime::spawn(tray::follow(app.handle().clone(), Arc::clone(core)));
                tauri::async_runtime::spawn(notifications::follow_runs(
                    app.handle().clone(),
                    Arc::clone(core),
                ));
                // Schedules fire whenever the app runs, window open or not
                // (it stands by while `hyperctl scheduler` holds the lock).
                tauri::async_runtime::spawn(Arc::clone(core).run_scheduler());
                tauri::async_runtime::spawn(check_database(Arc::clone(core)));
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window releases it and its web process (see
            // `main_window`); the app and its jobs keep running in the tray,
            // and "Quit" in the tray menu ends it.
            if let WindowEvent::CloseRequested { .. } = event
                && let Some(core) = window
                    .app_handle()
                    .try_state::<AppState>()
                    .and_then(|s| s.core_arc())
            {
                notifications::close_hint(window.app_handle(), core);
            }
        })
        .build(tauri::generate_context!());

    match app {
        Ok(app) => app.run(|app, event| {
            // The last window closing is not a reason to exit: the tray stays.
            // An exit with a code (the tray's Quit) goes ahead.
            if let RunEvent::ExitRequested {
                code: None, api, ..
            } = &event
            {
                api.prevent_exit();
            }
            if let RunEvent::Exit = event {
                tracing::info!("exiting");
                // Sign out of provider sessions (and log their counters) before the
                // process ends; bounded so a dead server cannot hold the exit up.
                if let Some(state) = app.try_state::<AppState>()
                    && let Ok(core) = state.core()
                {
                    tauri::async_runtime::block_on(async {
                        let _ = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            core.shutdown(),
                        )
                        .await;
                    });
                }
            }
        }),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the window");
            eprintln!("hypersdk-desktop: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The committed TypeScript bindings must be exactly what the Rust
    /// types generate; regenerate with
    /// `cargo run -p hypersdk-desktop --bin export-bindings`.
    #[test]
    fn committed_bindings_are_fresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = dir.path().join("bindings.ts");
        crate::bindings::builder()
            .export(crate::bindings::typescript(), &fresh)
            .expect("export bindings");
        let fresh = std::fs::read_to_string(&fresh).expect("read fresh");
        let committed = std::fs::read_to_string(crate::bindings::BINDINGS_PATH).unwrap_or_default();
        assert!(
            fresh == committed,
            "ui/src/bindings.ts is stale: run `cargo run -p hypersdk-desktop --bin export-bindings`"
        );
    }
}
