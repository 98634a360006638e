//! Disk sources: where the bytes of one disk come from.

use std::path::PathBuf;
use std::pin::Pin;

use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncSeekExt};
use tokio_util::io::StreamReader;

use crate::{Error, Result};

/// An async byte stream the pipeline reads a disk from.
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;

/// Where one disk's bytes come from.
pub enum DiskSource {
    /// A local file; seekable, so resume continues where it stopped.
    File(PathBuf),
    /// A local file made for this export alone (a disk unpacked from a backup archive, a
    /// conversion's output), read like `File`; an OVF folder takes it by renaming it rather than
    /// copying it, so its bytes are written once and its holes stay holes.
    Staged(PathBuf),
    /// An HTTP(S) URL. Resume uses `Range: bytes=N-` and falls back to a restart when the server
    /// answers 200 instead of 206.
    Http {
        /// The URL (its query string, e.g. a SAS token, is never logged or put in errors).
        url: String,
        /// The client (TLS settings, pinned certificates, timeouts are the caller's).
        client: reqwest::Client,
        /// Extra headers (authorisation, cookies).
        headers: reqwest::header::HeaderMap,
        /// Length if the caller already knows it; otherwise a HEAD request asks (when `probe`).
        length: Option<u64>,
        /// Whether the length may be asked for before the download (HEAD, then a one-byte
        /// range GET). Off for servers that mishandle HEAD or serve a URL only once, such as
        /// vSphere NFC leases: the disk is then treated as of unknown length.
        probe: bool,
    },
    /// A caller-supplied stream (e.g. a provider's export API). It can be read once; a resume
    /// restarts this disk from byte 0 (which fails unless the caller supplies a fresh source).
    Reader {
        /// The stream.
        reader: Option<BoxRead>,
        /// Its length if known in advance.
        length: Option<u64>,
    },
}

impl std::fmt::Debug for DiskSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiskSource::File(p) => f.debug_tuple("File").field(p).finish(),
            DiskSource::Staged(p) => f.debug_tuple("Staged").field(p).finish(),
            DiskSource::Http { url, length, .. } => f
                .debug_struct("Http")
                .field("url", &redact_url(url))
                .field("length", length)
                .finish_non_exhaustive(),
            DiskSource::Reader { length, .. } => f
                .debug_struct("Reader")
                .field("length", length)
                .finish_non_exhaustive(),
        }
    }
}

/// The URL without query string or fragment (those often carry credentials such as SAS tokens),
/// and without user info.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?<redacted>");
            }
            s
        }
        Err(_) => "<unparseable url>".to_string(),
    }
}

/// A source opened at some offset.
pub struct Opened {
    /// The bytes from `offset` on.
    pub reader: BoxRead,
    /// The offset actually honoured: the requested one, or 0 when the source cannot seek.
    pub offset: u64,
    /// Total length of the source (not of the remainder), when known.
    pub total_len: Option<u64>,
}

impl DiskSource {
    /// A local file source.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        DiskSource::File(path.into())
    }

    /// An HTTP(S) source with a plain client.
    pub fn http(url: impl Into<String>, client: reqwest::Client) -> Self {
        DiskSource::Http {
            url: url.into(),
            client,
            headers: reqwest::header::HeaderMap::new(),
            length: None,
            probe: true,
        }
    }

    /// A one-shot stream.
    pub fn reader(reader: impl AsyncRead + Send + 'static, length: Option<u64>) -> Self {
        DiskSource::Reader {
            reader: Some(Box::pin(reader)),
            length,
        }
    }

    /// An identity for resume checks: path + size + mtime for files, the URL without its query
    /// (tokens rotate; the object stays) for HTTP, `stream` for readers.
    pub fn identity(&self) -> String {
        match self {
            DiskSource::File(p) | DiskSource::Staged(p) => {
                let (len, mtime) = std::fs::metadata(p)
                    .map(|m| {
                        let mt = m
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map(|d| d.as_nanos())
                            .unwrap_or(0);
                        (m.len(), mt)
                    })
                    .unwrap_or((0, 0));
                format!("file:{}:{len}:{mtime}", p.display())
            }
            DiskSource::Http { url, .. } => format!("http:{}", redact_url(url)),
            DiskSource::Reader { .. } => "stream".to_string(),
        }
    }

    /// Whether `open(offset > 0)` can continue mid-stream.
    pub fn can_seek(&self) -> bool {
        !matches!(self, DiskSource::Reader { .. })
    }

    /// The source's total length if it can be learnt without reading it.
    pub async fn probe_len(&mut self, disk: &str) -> Result<Option<u64>> {
        match self {
            DiskSource::File(p) | DiskSource::Staged(p) => {
                let m = tokio::fs::metadata(&p).await.map_err(|e| Error::Source {
                    disk: disk.to_string(),
                    message: format!("{}: {e}", p.display()),
                    retryable: false,
                })?;
                Ok(Some(m.len()))
            }
            DiskSource::Reader { length, .. } => Ok(*length),
            DiskSource::Http {
                url,
                client,
                headers,
                length,
                probe,
            } => {
                if length.is_some() || !*probe {
                    return Ok(*length);
                }
                let resp = client
                    .head(url.as_str())
                    .headers(headers.clone())
                    .send()
                    .await
                    .map_err(|e| http_err(disk, url, &e))?;
                if resp.status().is_success() {
                    *length = resp
                        .headers()
                        .get(reqwest::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    return Ok(*length);
                }
                // Pre-signed GET URLs (S3, GCS, SAS) often refuse HEAD: ask for the first byte
                // instead and read the total from Content-Range.
                let head_status = resp.status().as_u16();
                let resp = client
                    .get(url.as_str())
                    .headers(headers.clone())
                    .header(reqwest::header::RANGE, "bytes=0-0")
                    .send()
                    .await
                    .map_err(|e| http_err(disk, url, &e))?;
                let status = resp.status();
                if status == reqwest::StatusCode::PARTIAL_CONTENT {
                    *length = resp
                        .headers()
                        .get(reqwest::header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.rsplit('/').next())
                        .and_then(|t| t.trim().parse().ok());
                    Ok(*length)
                } else if status.is_success() {
                    // The server ignored the range; the body is dropped unread.
                    *length = resp.content_length();
                    Ok(*length)
                } else {
                    Err(Error::HttpStatus {
                        status: head_status.max(status.as_u16()),
                        url: redact_url(url),
                    })
                }
            }
        }
    }

    /// Opens the source at `offset` (0 for a fresh start).
    pub async fn open(&mut self, offset: u64, disk: &str) -> Result<Opened> {
        match self {
            DiskSource::File(p) | DiskSource::Staged(p) => {
                let src_err = |e: std::io::Error| Error::Source {
                    disk: disk.to_string(),
                    message: format!("{}: {e}", p.display()),
                    retryable: false,
                };
                let mut f = tokio::fs::File::open(&p).await.map_err(src_err)?;
                let total = f.metadata().await.map_err(src_err)?.len();
                if offset > 0 {
                    f.seek(std::io::SeekFrom::Start(offset))
                        .await
                        .map_err(src_err)?;
                }
                // tokio's File does each read on the blocking pool; a large internal buffer keeps
                // the number of hops per MiB low.
                f.set_max_buf_size(crate::pipeline::CHUNK);
                Ok(Opened {
                    reader: Box::pin(f),
                    offset,
                    total_len: Some(total),
                })
            }
            DiskSource::Reader { reader, length } => {
                let r = reader.take().ok_or_else(|| Error::Source {
                    disk: disk.to_string(),
                    message: "stream source was already consumed; it cannot be re-read".into(),
                    retryable: false,
                })?;
                Ok(Opened {
                    reader: r,
                    offset: 0,
                    total_len: *length,
                })
            }
            DiskSource::Http {
                url,
                client,
                headers,
                length,
                ..
            } => {
                let mut req = client.get(url.as_str()).headers(headers.clone());
                if offset > 0 {
                    req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
                }
                let resp = req.send().await.map_err(|e| http_err(disk, url, &e))?;
                let status = resp.status();
                let (honoured, total) = if status == reqwest::StatusCode::PARTIAL_CONTENT
                    && offset > 0
                {
                    // Content-Range: bytes START-END/TOTAL
                    let cr = resp
                        .headers()
                        .get(reqwest::header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let start = cr
                        .strip_prefix("bytes ")
                        .and_then(|r| r.split('-').next())
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if start != Some(offset) {
                        return Err(Error::Source {
                            disk: disk.to_string(),
                            message: format!("server answered range {cr:?} for bytes={offset}-"),
                            retryable: false,
                        });
                    }
                    let total = cr.rsplit('/').next().and_then(|t| t.parse::<u64>().ok());
                    (offset, total)
                } else if status.is_success() {
                    (0, resp.content_length())
                } else {
                    return Err(Error::HttpStatus {
                        status: status.as_u16(),
                        url: redact_url(url),
                    });
                };
                if total.is_some() {
                    *length = total;
                }
                let disk_name = disk.to_string();
                let stream = resp.bytes_stream().map_err(move |e| {
                    std::io::Error::other(format!("{disk_name}: {}", e.without_url()))
                });
                Ok(Opened {
                    reader: Box::pin(StreamReader::new(stream)),
                    offset: honoured,
                    total_len: total.or(*length),
                })
            }
        }
    }
}

fn http_err(disk: &str, url: &str, e: &reqwest::Error) -> Error {
    Error::Source {
        disk: disk.to_string(),
        message: format!("{}: {}", redact_url(url), strip_url(e)),
        retryable: e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
    }
}

fn strip_url(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    // reqwest's Display includes the full URL; rebuild the message from the source chain instead.
    let mut first = true;
    while let Some(err) = cur {
        if first {
            first = false;
            if e.is_timeout() {
                s.push_str("timed out");
            } else if e.is_connect() {
                s.push_str("connection failed");
            } else {
                s.push_str("request failed");
            }
        } else {
            s.push_str(": ");
            s.push_str(&err.to_string());
        }
        cur = err.source();
    }
    s
}
