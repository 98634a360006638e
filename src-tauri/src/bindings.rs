//! The one list of commands and events, used both to serve IPC and to
//! generate `ui/src/bindings.ts` (a test fails when that file is stale).

use specta_typescript::Typescript;
use tauri_specta::{Builder, collect_commands, collect_events};

use crate::commands;
use crate::events::CoreEvent;

pub fn builder() -> Builder<tauri::Wry> {
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::app_info,
            commands::list_provider_kinds,
            commands::list_connections,
            commands::add_connection,
            commands::update_connection,
            commands::test_connection,
            commands::test_connection_input,
            commands::remove_connection,
            commands::connection_diagnostics,
            commands::list_vms,
            commands::start_export,
            commands::destination_space,
            commands::retry_job,
            commands::query_jobs,
            commands::get_job,
            commands::cancel_job,
            commands::get_settings,
            commands::update_settings,
            commands::list_webhooks,
            commands::get_webhook,
            commands::add_webhook,
            commands::update_webhook,
            commands::remove_webhook,
            commands::set_webhook_enabled,
            commands::test_webhook,
            commands::list_webhook_deliveries,
            commands::redeliver_webhook,
            commands::list_webhook_events,
            commands::get_webhook_settings,
            commands::update_webhook_settings,
            commands::list_schedules,
            commands::get_schedule,
            commands::add_schedule,
            commands::update_schedule,
            commands::remove_schedule,
            commands::set_schedule_enabled,
            commands::run_schedule_now,
            commands::pause_schedules,
            commands::resume_schedules,
            commands::schedule_history,
            commands::schedule_retention_preview,
            commands::preview_cron,
            commands::scheduler_status,
            commands::get_desktop_settings,
            commands::update_desktop_settings,
            commands::get_autostart,
            commands::set_autostart,
            commands::metric_series,
            commands::app_resource_series,
            commands::job_stats,
            commands::metrics_endpoint_status,
            commands::save_chart_export,
            commands::show_window,
            commands::quit_app,
        ])
        .events(collect_events![CoreEvent])
        // The most jobs one `query_jobs` page holds, so the window never
        // asks for more.
        .constant("JOB_PAGE_MAX", hypersdk_core::JOB_PAGE_MAX)
        // Byte counts are u64 in Rust; as JS numbers they are exact up to
        // 8 PiB, far beyond any disk, so `number` is safe and simpler than
        // `bigint` for the UI.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type; our IPC types serialize and
        // deserialize alike, so split Serialize/Deserialize types only add noise.
        .disable_serde_phases()
}

pub fn typescript() -> Typescript {
    Typescript::default().header("// Generated from the Rust types by `cargo run -p hypersdk-desktop --bin export-bindings`. Do not edit.\n")
}

pub const BINDINGS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");
