//! A real HTTP/1.1 webhook receiver on loopback for tests: a tokio
//! `TcpListener` and a minimal request parser (request line, headers,
//! `Content-Length` body). Each request is recorded with the time it arrived
//! and answered as a script says — a status, extra headers, or never
//! (the connection is held open, as a hung server would).

#![allow(dead_code)] // Each test file uses part of this module.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// What the receiver answered (0: nothing, the connection hung).
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn event_id(&self) -> String {
        self.header("x-hypersdk-event-id")
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    StatusWith(u16, Vec<(String, String)>),
    /// Read the request, then never answer.
    Hang,
}

/// Decides the reply to the n-th request (0-based) this receiver has seen.
pub type Script = Arc<dyn Fn(usize, &Received) -> Reply + Send + Sync>;

pub fn always(status: u16) -> Script {
    Arc::new(move |_, _| Reply::Status(status))
}

/// `status` for the first `n` requests, then 200.
pub fn fail_first(n: usize, status: u16) -> Script {
    Arc::new(move |i, _| {
        if i < n {
            Reply::Status(status)
        } else {
            Reply::Status(200)
        }
    })
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closes the port and every held connection: the receiver is "down".
        self.accept.abort();
        for c in self
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            c.abort();
        }
    }
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        Self::start_on(0, script).await
    }

    /// On a given port (0: any), e.g. to come back up where a receiver was down.
    pub async fn start_on(port: u16, script: Script) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the test receiver");
        let addr = listener.local_addr().expect("local addr");
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (log2, conns2) = (Arc::clone(&log), Arc::clone(&connections));
        let counter = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (log, script, counter) =
                    (Arc::clone(&log2), Arc::clone(&script), Arc::clone(&counter));
                let task = tokio::spawn(async move { serve(stream, log, script, counter).await });
                conns2.lock().unwrap_or_else(|p| p.into_inner()).push(task);
            }
        });
        Receiver {
            addr,
            url: format!("http://{addr}/hook"),
            log,
            accept,
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until at least `n` requests arrived, or panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests within {timeout:?}, got {}: {:#?}",
                got.len(),
                got.iter()
                    .map(|r| (r.header("x-hypersdk-event"), r.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads one request, records it, answers, closes (`Connection: close`
/// keeps the parser trivial: one request per connection).
async fn serve(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Received>>>,
    script: Script,
    counter: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let mut received = Received {
        at,
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        answered: 0,
    };
    let index = counter.fetch_add(1, Ordering::SeqCst);
    let reply = script(index, &received);
    let (status, extra) = match reply {
        Reply::Status(s) => (s, Vec::new()),
        Reply::StatusWith(s, h) => (s, h),
        Reply::Hang => {
            log.lock().unwrap_or_else(|p| p.into_inner()).push(received);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
    };
    received.answered = status;
    log.lock().unwrap_or_else(|p| p.into_inner()).push(received);
    let mut response = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n");
    for (n, v) in extra {
        response.push_str(&format!("{n}: {v}\r\n"));
    }
    response.push_str("\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
