//! The request body: the old HyperSDK's shape, which receivers already parse.
//!
//! ```json
//! {"event": "job.completed", "timestamp": "2026-01-21T12:00:00.000Z",
//!  "data": {"job_id": "…", "job_name": "Export db01", "vm_path": "/DC0/vm/db01",
//!           "duration_seconds": 300.5, "output_paths": ["/exports/db01.ova"],
//!           "bytes": 1073741824, "error": null}}
//! ```
//!
//! Built only from the job row (name, request, timestamps, result, error):
//! nothing here can hold a password, token or signing secret. The body is
//! frozen in the outbox row when the event happens, so every attempt sends the
//! same bytes.

use chrono::SecondsFormat;
use serde::Serialize;

use crate::error::{ApiError, CoreError, Result};
use crate::model::{JobProgress, JobResult, Timestamp};
use crate::webhooks::WebhookEvent;

#[derive(Debug, Serialize)]
struct Envelope<'a, D: Serialize> {
    event: &'a str,
    /// RFC 3339, UTC, milliseconds: when the state change was committed.
    timestamp: String,
    data: &'a D,
}

/// The body of an event, as JSON text.
pub(crate) fn envelope<D: Serialize>(
    event: WebhookEvent,
    at: Timestamp,
    data: &D,
) -> Result<String> {
    serde_json::to_string(&Envelope {
        event: event.as_str(),
        timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        data,
    })
    .map_err(|e| CoreError::Internal(format!("webhook payload: {e}")))
}

/// `data` of every `job.*` event. Field order is the documented order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct JobData {
    pub job_id: String,
    pub job_name: String,
    /// The VM's inventory path, for exports.
    pub vm_path: Option<String>,
    /// From start to the end (or to now, for `job.progress`); null before
    /// the job started.
    pub duration_seconds: Option<f64>,
    /// What a completed job wrote: the archive, or each file of an OVF folder.
    pub output_paths: Vec<String>,
    /// Bytes of the artefact (completed), or bytes copied so far (progress).
    pub bytes: Option<u64>,
    /// `{code, message, retryable}` of a failed job.
    pub error: Option<ApiError>,
    /// Only in `job.progress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressData>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProgressData {
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    pub percent: Option<f64>,
    pub rate_bps: f64,
    pub eta_seconds: Option<f64>,
}

/// What the job row says, as read inside the transaction of the change.
#[derive(Debug, Clone)]
pub(crate) struct JobFacts {
    pub id: String,
    pub name: String,
    pub request_json: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub result: Option<JobResult>,
    pub error: Option<ApiError>,
}

pub(crate) fn job_data(
    event: WebhookEvent,
    facts: JobFacts,
    now: Timestamp,
    progress: Option<&JobProgress>,
) -> JobData {
    let request: serde_json::Value =
        serde_json::from_str(&facts.request_json).unwrap_or(serde_json::Value::Null);
    let vm_path = request
        .get("vm_path")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let duration_seconds = facts.started_at.map(|start| {
        let end = facts.finished_at.unwrap_or(now);
        ((end - start).num_milliseconds().max(0) as f64) / 1000.0
    });
    let completed = event == WebhookEvent::JobCompleted;
    let output_paths = match (&facts.result, completed) {
        (Some(result), true) => output_paths(result, &request),
        _ => Vec::new(),
    };
    let bytes = match (event, &facts.result, progress) {
        (WebhookEvent::JobCompleted, Some(result), _) => Some(result.bytes),
        (WebhookEvent::JobProgress, _, Some(p)) => Some(p.bytes_done),
        _ => None,
    };
    let error = match event {
        WebhookEvent::JobFailed => facts.error,
        _ => None,
    };
    JobData {
        job_id: facts.id,
        job_name: facts.name,
        vm_path,
        duration_seconds,
        output_paths,
        bytes,
        error,
        progress: progress
            .filter(|_| event == WebhookEvent::JobProgress)
            .map(|p| ProgressData {
                bytes_done: p.bytes_done,
                bytes_total: p.bytes_total,
                percent: p
                    .bytes_total
                    .filter(|t| *t > 0)
                    .map(|t| (p.bytes_done as f64 * 1000.0 / t as f64).round() / 10.0),
                rate_bps: p.rate_bps,
                eta_seconds: p.eta_seconds,
            }),
    }
}

/// An OVF export is a folder of files: each is named. Anything else (an OVA,
/// compressed or not) is one file.
fn output_paths(result: &JobResult, request: &serde_json::Value) -> Vec<String> {
    let is_folder = request
        .pointer("/format/package")
        .and_then(|v| v.as_str())
        .is_some_and(|p| p == "ovf");
    if is_folder && !result.files.is_empty() {
        let dir = std::path::Path::new(&result.path);
        result
            .files
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect()
    } else {
        vec![result.path.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> Timestamp {
        chrono::Utc
            .timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn facts() -> JobFacts {
        JobFacts {
            id: "job-1".into(),
            name: "Export db01".into(),
            request_json: r#"{"vm_path":"/DC0/vm/db01","format":{"package":"ova"}}"#.into(),
            started_at: Some(at(0)),
            finished_at: Some(at(300)),
            result: Some(JobResult {
                path: "/exports/db01.ova".into(),
                files: vec!["db01.ovf".into(), "db01-disk1.vmdk".into()],
                bytes: 4096,
                manifest_algorithm: "sha256".into(),
                verified: true,
                disk_checks: Vec::new(),
            }),
            error: None,
        }
    }

    #[test]
    fn completed_jobs_have_the_seed_shape_in_order() {
        let data = job_data(WebhookEvent::JobCompleted, facts(), at(301), None);
        let body = envelope(WebhookEvent::JobCompleted, at(300), &data).expect("json");
        assert_eq!(
            body,
            r#"{"event":"job.completed","timestamp":"2023-11-14T22:18:20.000Z","data":{"job_id":"job-1","job_name":"Export db01","vm_path":"/DC0/vm/db01","duration_seconds":300.0,"output_paths":["/exports/db01.ova"],"bytes":4096,"error":null}}"#
        );
    }

    #[test]
    fn ovf_folders_list_each_file_and_failures_carry_the_error() {
        let mut f = facts();
        f.request_json = r#"{"vm_path":"/x","format":{"package":"ovf"}}"#.into();
        f.result = Some(JobResult {
            path: "/exports/db01".into(),
            ..f.result.clone().expect("result")
        });
        let data = job_data(WebhookEvent::JobCompleted, f.clone(), at(301), None);
        assert_eq!(
            data.output_paths,
            vec!["/exports/db01/db01.ovf", "/exports/db01/db01-disk1.vmdk"]
        );
        f.error = Some(ApiError {
            code: "destination_full".into(),
            message: "the disk is full".into(),
            retryable: true,
        });
        let failed = job_data(WebhookEvent::JobFailed, f, at(301), None);
        assert!(failed.output_paths.is_empty() && failed.bytes.is_none());
        assert_eq!(
            failed.error.map(|e| e.code),
            Some("destination_full".to_owned())
        );
    }

    #[test]
    fn progress_reports_bytes_so_far_and_elapsed_time() {
        let mut f = facts();
        f.finished_at = None;
        let p = JobProgress {
            job_id: "job-1".into(),
            bytes_done: 250,
            bytes_total: Some(1000),
            rate_bps: 10.0,
            eta_seconds: Some(75.0),
            disks: vec![],
        };
        let data = job_data(WebhookEvent::JobProgress, f, at(42), Some(&p));
        assert_eq!(data.duration_seconds, Some(42.0));
        assert_eq!(data.bytes, Some(250));
        assert_eq!(data.progress.expect("progress").percent, Some(25.0));
        let mut created = facts();
        created.started_at = None;
        created.finished_at = None;
        let data = job_data(WebhookEvent::JobCreated, created, at(1), None);
        assert_eq!(data.duration_seconds, None);
        assert!(
            !serde_json::to_string(&data)
                .expect("json")
                .contains("progress")
        );
    }
}
