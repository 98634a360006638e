//! IPC commands: each one a one-liner into the core. Errors cross as
//! `ApiError {code, message, retryable}`; TypeScript bindings are generated
//! from these signatures (see `bindings.rs`).

use hypersdk_core::ApiError;
use hypersdk_core::exports::ExportSpec;
use hypersdk_core::metrics::endpoint::EndpointStatus;
use hypersdk_core::metrics::{JobStats, MetricSeries, SeriesQuery, TimeRange};
use hypersdk_core::model::{
    Connection, ConnectionInput, ConnectionTestResult, Job, JobDetail, ProviderKindInfo, Settings,
    VmFilter, VmInfo,
};
use hypersdk_core::providers::Diagnostic;
use serde::Serialize;
use tauri::{AppHandle, State};

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
pub async fn list_jobs(state: State<'_, AppState>) -> CmdResult<Vec<Job>> {
    Ok(state.core()?.list_jobs().await?)
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
    crate::tray::show_main_window(&app);
}

/// Tray action "Quit".
#[tauri::command]
#[specta::specta]
pub fn quit_app(app: AppHandle) {
    app.exit(0);
}
