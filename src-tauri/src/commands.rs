//! IPC commands: each one a one-liner into the core. Errors cross as
//! `ApiError {code, message, retryable}`; TypeScript bindings are generated
//! from these signatures (see `bindings.rs`).

use hypersdk_core::ApiError;
use hypersdk_core::exports::ExportSpec;
use hypersdk_core::metrics::endpoint::EndpointStatus;
use hypersdk_core::metrics::{JobStats, MetricSeries, SeriesQuery, TimeRange};
use hypersdk_core::model::{
    Connection, ConnectionInput, ConnectionTestResult, DesktopSettings, Job, JobDetail, JobPage,
    JobQuery, ProviderKindInfo, Settings, VmFilter, VmInfo,
};
use hypersdk_core::providers::Diagnostic;
use hypersdk_core::schedules::{
    CronPreview, RetentionItem, Schedule, ScheduleDetail, ScheduleExecution, ScheduleInput,
    SchedulerStatus,
};
use hypersdk_core::webhooks::{
    DeliveryFilter, Webhook, WebhookDelivery, WebhookInput, WebhookSettings, WebhookTestResult,
};
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::state::AppState;

type CmdResult<T> = Result<T, ApiError>;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub log_dir: String,
    pub database_path: String,
    /// Set when the core could not start; the UI shows only this.
    pub startup_error: Option<ApiError>,
}

#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    let show = |f: fn(&hypersdk_core::Paths) -> &std::path::Path| {
        state
            .paths()
            .map(|p| f(p).display().to_string())
            .unwrap_or_default()
    };
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        data_dir: show(|p| &p.data_dir),
        log_dir: show(|p| &p.log_dir),
        database_path: show(|p| &p.database),
        startup_error: match state.inner() {
            AppState::Failed { error, .. } => Some(error.clone()),
            AppState::Ready(_) => None,
        },
    }
}

#[tauri::command]
#[specta::specta]
pub fn list_provider_kinds(state: State<'_, AppState>) -> Vec<ProviderKindInfo> {
    state.core().map(|c| c.provider_kinds()).unwrap_or_default()
}

#[tauri::command]
#[specta::specta]
pub async fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<Connection>> {
    Ok(state.core()?.list_connections().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_connection(
    state: State<'_, AppState>,
    input: ConnectionInput,
) -> CmdResult<Connection> {
    Ok(state.core()?.add_connection(input).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_connection(
    state: State<'_, AppState>,
    id: String,
    input: ConnectionInput,
) -> CmdResult<Connection> {
    Ok(state.core()?.update_connection(&id, input).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn test_connection(
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<ConnectionTestResult> {
    Ok(state.core()?.test_connection(&id).await?)
}

/// What the connection form holds, tested before it is saved (`id`: the
/// connection being edited).
#[tauri::command]
#[specta::specta]
pub async fn test_connection_input(
    state: State<'_, AppState>,
    id: Option<String>,
    input: ConnectionInput,
) -> CmdResult<ConnectionTestResult> {
    Ok(state
        .core()?
        .test_connection_input(id.as_deref(), input)
        .await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_connection(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    Ok(state.core()?.remove_connection(&id).await?)
}

/// Live details of a connection's provider (vSphere: session pool counters).
#[tauri::command]
#[specta::specta]
pub async fn connection_diagnostics(
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<Vec<Diagnostic>> {
    Ok(state.core()?.connection_diagnostics(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_vms(
    state: State<'_, AppState>,
    connection_id: String,
    filter: VmFilter,
) -> CmdResult<Vec<VmInfo>> {
    Ok(state.core()?.list_vms(&connection_id, filter).await?)
}

/// One job per VM; see `hypersdk_core::exports`.
#[tauri::command]
#[specta::specta]
pub async fn start_export(state: State<'_, AppState>, spec: ExportSpec) -> CmdResult<Vec<Job>> {
    Ok(state.core()?.start_export(spec).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn retry_job(state: State<'_, AppState>, id: String) -> CmdResult<Job> {
    Ok(state.core()?.retry_job(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn query_jobs(state: State<'_, AppState>, query: JobQuery) -> CmdResult<JobPage> {
    Ok(state.core()?.query_jobs(query).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn get_job(state: State<'_, AppState>, id: String) -> CmdResult<JobDetail> {
    Ok(state.core()?.job(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_job(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    Ok(state.core()?.cancel_job(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> CmdResult<Settings> {
    Ok(state.core()?.settings().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> CmdResult<Settings> {
    Ok(state.core()?.update_settings(settings).await?)
}

/// Webhooks with their last delivery and pending/dead counts.
#[tauri::command]
#[specta::specta]
pub async fn list_webhooks(state: State<'_, AppState>) -> CmdResult<Vec<Webhook>> {
    Ok(state.core()?.list_webhooks().await?)
}

/// By id or name.
#[tauri::command]
#[specta::specta]
pub async fn get_webhook(state: State<'_, AppState>, id: String) -> CmdResult<Webhook> {
    Ok(state.core()?.webhook(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_webhook(state: State<'_, AppState>, input: WebhookInput) -> CmdResult<Webhook> {
    Ok(state.core()?.add_webhook(input).await?)
}

/// `signing_secret: null` keeps the stored secret (empty removes it); a
/// secret header with an empty value keeps its stored value.
#[tauri::command]
#[specta::specta]
pub async fn update_webhook(
    state: State<'_, AppState>,
    id: String,
    input: WebhookInput,
) -> CmdResult<Webhook> {
    Ok(state.core()?.update_webhook(&id, input).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_webhook(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    Ok(state.core()?.remove_webhook(&id).await?)
}

/// Disabling keeps pending deliveries waiting unless `drop_pending`.
#[tauri::command]
#[specta::specta]
pub async fn set_webhook_enabled(
    state: State<'_, AppState>,
    id: String,
    enabled: bool,
    drop_pending: bool,
) -> CmdResult<Webhook> {
    Ok(state
        .core()?
        .set_webhook_enabled(&id, enabled, drop_pending)
        .await?)
}

/// "Send test event": a signed `webhook.test`, sent now, once.
#[tauri::command]
#[specta::specta]
pub async fn test_webhook(state: State<'_, AppState>, id: String) -> CmdResult<WebhookTestResult> {
    Ok(state.core()?.test_webhook(&id).await?)
}

/// The delivery log, newest first.
#[tauri::command]
#[specta::specta]
pub async fn list_webhook_deliveries(
    state: State<'_, AppState>,
    filter: DeliveryFilter,
) -> CmdResult<Vec<WebhookDelivery>> {
    Ok(state.core()?.webhook_deliveries(filter).await?)
}

/// "Redeliver": same event id, fresh attempts.
#[tauri::command]
#[specta::specta]
pub async fn redeliver_webhook(
    state: State<'_, AppState>,
    delivery_id: i64,
) -> CmdResult<WebhookDelivery> {
    Ok(state.core()?.redeliver(delivery_id).await?)
}

/// The event names a webhook can subscribe to (and `*`), for the form.
#[tauri::command]
#[specta::specta]
pub fn list_webhook_events() -> Vec<String> {
    hypersdk_core::webhooks::event_names()
}

#[tauri::command]
#[specta::specta]
pub async fn get_webhook_settings(state: State<'_, AppState>) -> CmdResult<WebhookSettings> {
    Ok(state.core()?.webhook_settings().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_webhook_settings(
    state: State<'_, AppState>,
    settings: WebhookSettings,
) -> CmdResult<WebhookSettings> {
    Ok(state.core()?.update_webhook_settings(settings).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn list_schedules(state: State<'_, AppState>) -> CmdResult<Vec<Schedule>> {
    Ok(state.core()?.list_schedules().await?)
}

/// One schedule (by id or name) with its next fire times.
#[tauri::command]
#[specta::specta]
pub async fn get_schedule(state: State<'_, AppState>, id: String) -> CmdResult<ScheduleDetail> {
    Ok(state.core()?.schedule(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_schedule(state: State<'_, AppState>, input: ScheduleInput) -> CmdResult<Schedule> {
    Ok(state.core()?.add_schedule(input).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_schedule(
    state: State<'_, AppState>,
    id: String,
    input: ScheduleInput,
) -> CmdResult<Schedule> {
    Ok(state.core()?.update_schedule(&id, input).await?)
}

/// Removes the schedule and its history; its backups stay on disk.
#[tauri::command]
#[specta::specta]
pub async fn remove_schedule(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    Ok(state.core()?.remove_schedule(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_schedule_enabled(
    state: State<'_, AppState>,
    id: String,
    enabled: bool,
) -> CmdResult<Schedule> {
    Ok(state.core()?.set_schedule_enabled(&id, enabled).await?)
}

/// "Run now" (window and tray): returns the started run, or a skipped one
/// when the previous run is still going; `ScheduleRun` events follow it.
#[tauri::command]
#[specta::specta]
pub async fn run_schedule_now(
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<ScheduleExecution> {
    Ok(state.shared_core()?.start_schedule_now(&id).await?)
}

/// Tray "Pause all".
#[tauri::command]
#[specta::specta]
pub async fn pause_schedules(state: State<'_, AppState>) -> CmdResult<SchedulerStatus> {
    Ok(state.core()?.pause_schedules().await?)
}

/// Tray "Resume all".
#[tauri::command]
#[specta::specta]
pub async fn resume_schedules(state: State<'_, AppState>) -> CmdResult<SchedulerStatus> {
    Ok(state.core()?.resume_schedules().await?)
}

/// Runs of a schedule, newest first (`limit` defaults to 1000).
#[tauri::command]
#[specta::specta]
pub async fn schedule_history(
    state: State<'_, AppState>,
    id: String,
    limit: Option<u32>,
) -> CmdResult<Vec<ScheduleExecution>> {
    Ok(state.core()?.schedule_history(&id, limit).await?)
}

/// Dry run: which recorded files retention would delete now.
#[tauri::command]
#[specta::specta]
pub async fn schedule_retention_preview(
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<Vec<RetentionItem>> {
    Ok(state.core()?.retention_preview(&id).await?)
}

/// Free space at an export destination (the export dialog warns before an
/// export that will not fit).
#[tauri::command]
#[specta::specta]
pub async fn destination_space(
    state: State<'_, AppState>,
    dir: String,
) -> CmdResult<hypersdk_core::exports::DestinationSpace> {
    Ok(state.core()?.destination_space(&dir).await?)
}

/// A cron expression in words and its next fire times, while it is typed.
#[tauri::command]
#[specta::specta]
pub fn preview_cron(
    state: State<'_, AppState>,
    cron: String,
    time_zone: String,
) -> CmdResult<CronPreview> {
    Ok(state.core()?.preview_cron(&cron, &time_zone)?)
}

/// What the tray shows: paused, runs in progress, next run, last run failed.
#[tauri::command]
#[specta::specta]
pub async fn scheduler_status(state: State<'_, AppState>) -> CmdResult<SchedulerStatus> {
    Ok(state.core()?.scheduler_status().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn get_desktop_settings(state: State<'_, AppState>) -> CmdResult<DesktopSettings> {
    Ok(state.core()?.desktop_settings().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_desktop_settings(
    state: State<'_, AppState>,
    settings: DesktopSettings,
) -> CmdResult<DesktopSettings> {
    Ok(state.core()?.update_desktop_settings(settings).await?)
}

/// Whether the app starts (hidden, in the tray) at login. The OS entry is the truth.
#[tauri::command]
#[specta::specta]
pub fn get_autostart(app: AppHandle) -> CmdResult<bool> {
    app.autolaunch().is_enabled().map_err(autostart_error)
}

#[tauri::command]
#[specta::specta]
pub fn set_autostart(app: AppHandle, enabled: bool) -> CmdResult<bool> {
    let launcher = app.autolaunch();
    if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    }
    .map_err(autostart_error)?;
    launcher.is_enabled().map_err(autostart_error)
}

fn autostart_error(e: impl std::fmt::Display) -> ApiError {
    ApiError {
        code: "autostart_failed".into(),
        message: format!("cannot change start at login: {e}"),
        retryable: false,
    }
}

/// A metric over a time range, bucketed for a chart.
#[tauri::command]
#[specta::specta]
pub async fn metric_series(
    state: State<'_, AppState>,
    query: SeriesQuery,
) -> CmdResult<MetricSeries> {
    Ok(state.core()?.metric_series(query).await?)
}

/// The app's CPU, memory and destination write rate over a time range.
#[tauri::command]
#[specta::specta]
pub async fn app_resource_series(
    state: State<'_, AppState>,
    range: TimeRange,
) -> CmdResult<Vec<MetricSeries>> {
    Ok(state.core()?.app_resource_series(range).await?)
}

/// Job counts, bytes exported, runs and the weekday × hour heat map.
#[tauri::command]
#[specta::specta]
pub async fn job_stats(state: State<'_, AppState>, range: TimeRange) -> CmdResult<JobStats> {
    Ok(state.core()?.job_stats(range).await?)
}

/// Whether the Prometheus endpoint (Settings) is serving, and where.
#[tauri::command]
#[specta::specta]
pub async fn metrics_endpoint_status(state: State<'_, AppState>) -> CmdResult<EndpointStatus> {
    Ok(state.core()?.metrics_endpoint_status().await?)
}

/// Writes chart data (CSV/JSON) to the path the native save dialog returned.
#[tauri::command]
#[specta::specta]
pub async fn save_chart_export(
    state: State<'_, AppState>,
    path: String,
    content: String,
) -> CmdResult<String> {
    Ok(state.core()?.save_chart_export(path, content).await?)
}

/// Tray action "Show window", also callable so tests can drive it.
#[tauri::command]
#[specta::specta]
pub fn show_window(app: AppHandle) {
    crate::main_window::show(&app, None);
}

/// Tray action "Quit".
#[tauri::command]
#[specta::specta]
pub fn quit_app(app: AppHandle) {
    app.exit(0);
}
