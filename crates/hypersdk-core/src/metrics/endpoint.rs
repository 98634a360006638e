//! The opt-in Prometheus endpoint: `GET /metrics` on a small HTTP/1.1
//! server (hyper, already in the build through the HTTP client, so only its
//! server half is added).
//!
//! Off by default; when on it listens on `127.0.0.1:9464` unless the user
//! chose another address (the window warns when that address is reachable
//! from other machines — the figures include job names).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{exposition, unix_now};
use crate::error::{ApiError, CoreError, Result};
use crate::jobs::blocking;
use crate::store::Store;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Parses a listen address: an IP address and a port (`127.0.0.1:9464`,
/// `[::1]:9464`, `0.0.0.0:9464`); host names are refused because what they
/// resolve to can change under the user.
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    text.trim().parse::<SocketAddr>().map_err(|_| {
        CoreError::invalid(
            "metrics_listen",
            format!(
                "\"{}\" is not an IP address and port, e.g. {DEFAULT_LISTEN}",
                text.trim()
            ),
        )
    })
}

/// What the Settings page shows about the endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct EndpointStatus {
    pub enabled: bool,
    pub listen: String,
    /// The URL being served, once listening.
    pub url: Option<String>,
    /// Whether only this machine can connect.
    pub loopback_only: bool,
    /// Why it is not serving although enabled (address in use, …).
    pub error: Option<ApiError>,
}

/// A listening server; stops when `cancel` fires.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    cancel: CancellationToken,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Resolves when the server has been stopped.
    pub async fn stopped(&self) {
        self.cancel.cancelled().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Binds `addr` and serves `/metrics` from `store` until the returned
/// server is stopped or dropped.
pub async fn serve(addr: SocketAddr, store: Arc<Store>) -> Result<Server> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| CoreError::io(format!("cannot listen on {addr} for metrics"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| CoreError::io("cannot read the metrics listen address", e))?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => break,
                a = listener.accept() => a,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(error = %e, "metrics endpoint cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let store = Arc::clone(&store);
            let stop = stop.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let store = Arc::clone(&store);
                    async move { Ok::<_, std::convert::Infallible>(respond(req, store).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    r = conn => if let Err(e) = r {
                        tracing::debug!(error = %e, "metrics connection ended with an error");
                    },
                    () = stop.cancelled() => {}
                }
            });
        }
    });
    tracing::info!(addr = %local, "metrics endpoint listening");
    Ok(Server {
        addr: local,
        cancel,
    })
}

async fn respond<B>(req: Request<B>, store: Arc<Store>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let method = req.method();
    if path != "/metrics" && path != "/" {
        return text(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == "/" {
        return text(
            StatusCode::OK,
            "HyperSDK Desktop metrics: scrape /metrics (Prometheus text format)\n",
        );
    }
    match blocking(move || exposition::render(&store, unix_now())).await {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(exposition::CONTENT_TYPE),
            );
            r
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot render metrics");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the metrics; see the HyperSDK log\n",
            )
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Starts, moves or stops the endpoint to match the settings (the app).
#[derive(Debug, Default)]
pub struct EndpointController {
    running: tokio::sync::Mutex<Option<(String, Server)>>,
    status: Mutex<Option<EndpointStatus>>,
}

impl EndpointController {
    /// Idempotent: the same settings leave a running server alone.
    /// The settings are read from the store *under the lock*: callers that
    /// read them first and applied them after could interleave (start-up
    /// and a change at the same moment) and leave an older state running.
    pub async fn sync(&self, store: &Arc<Store>) {
        let mut running = self.running.lock().await;
        let s = Arc::clone(store);
        let settings = match tokio::task::spawn_blocking(move || s.settings()).await {
            Ok(Ok(settings)) => settings,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the metrics settings");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the metrics settings failed");
                return;
            }
        };
        let listen = settings.metrics_listen.trim().to_owned();
        if settings.metrics_enabled && running.as_ref().is_some_and(|(l, _)| *l == listen) {
            return;
        }
        if let Some((_, server)) = running.take() {
            server.stop();
        }
        let mut status = EndpointStatus {
            enabled: settings.metrics_enabled,
            listen: listen.clone(),
            url: None,
            loopback_only: parse_listen(&listen).is_ok_and(|a| a.ip().is_loopback()),
            error: None,
        };
        if settings.metrics_enabled {
            match parse_listen(&listen) {
                Ok(addr) => match serve(addr, Arc::clone(store)).await {
                    Ok(server) => {
                        status.url = Some(server.url());
                        *running = Some((listen, server));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics endpoint not started");
                        status.error = Some(ApiError::verbatim(&e));
                    }
                },
                Err(e) => status.error = Some(ApiError::verbatim(&e)),
            }
        }
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
    }

    /// `None` until the first `apply`.
    pub fn status(&self) -> Option<EndpointStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
