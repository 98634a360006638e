//! The streaming copy engine: source → (hash ‖ write) with bounded queues.
//!
//! The async side only reads; hashing and writing each run on their own blocking thread, fed the
//! same reference-counted 1 MiB chunks through bounded channels, so reading, hashing and writing
//! overlap and at most `2 × QUEUE + 2` chunks exist at once whatever the disk size.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::manifest::Hasher;
use crate::source::BoxRead;
use crate::{Error, Result};

/// Size of one chunk handed between stages.
pub const CHUNK: usize = 1 << 20;
/// Chunks queued per stage.
const QUEUE: usize = 4;
/// Default for how many bytes the writer lets pass between durability points (fsync + checkpoint);
/// a point is also made every `SYNC_INTERVAL`, whichever comes first.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 256 << 20;
const SYNC_INTERVAL: Duration = Duration::from_secs(5);
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Progress of one disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Index of the disk in the request.
    pub disk_index: usize,
    /// The disk's package file name.
    pub file: String,
    /// Bytes of this disk written so far (including bytes kept from a resumed run).
    pub bytes_done: u64,
    /// The disk's total size, when known.
    pub bytes_total: Option<u64>,
}

/// Progress callback; called from the disk's writer thread (keep it cheap: it runs in the data
/// path) once when a disk starts (with the bytes kept from a resumed run), about 10 times a second,
/// at least every checkpoint interval of bytes, and once at the end of each disk. Staging/conversion phases of a disk report under the same index.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Called (on the writer thread) with the total bytes durably written after each periodic fsync.
pub(crate) type DurableFn = Box<dyn FnMut(u64) -> Result<()> + Send>;

pub(crate) struct CopyJob<W> {
    pub disk_index: usize,
    pub file: String,
    pub reader: BoxRead,
    /// Bytes still expected from `reader` (None: until EOF).
    pub remaining: Option<u64>,
    /// Bytes already in the destination (resume) — counted in progress and checkpoints.
    pub already: u64,
    pub total: Option<u64>,
    /// None: the bytes' digest is already known (a staged copy being packed), so none is computed.
    pub hasher: Option<Hasher>,
    pub out: W,
    /// A handle on the destination file for periodic `sync_data` (None: not checkpointable).
    pub sync_file: Option<std::fs::File>,
    pub on_durable: Option<DurableFn>,
    /// Bytes between durability points.
    pub sync_every: u64,
    pub progress: Option<ProgressFn>,
}

pub(crate) struct CopyDone<W> {
    pub out: W,
    /// The digest when the job had a hasher.
    pub digest: Option<String>,
    /// Total bytes of this disk (already + copied now).
    pub bytes: u64,
}

pub(crate) fn join_err(e: tokio::task::JoinError) -> Error {
    Error::Internal(format!("worker thread failed: {e}"))
}

pub(crate) async fn copy<W: Write + Send + 'static>(
    job: CopyJob<W>,
    cancel: &CancellationToken,
) -> Result<CopyDone<W>> {
    let CopyJob {
        disk_index,
        file,
        mut reader,
        remaining,
        already,
        total,
        hasher,
        mut out,
        sync_file,
        mut on_durable,
        sync_every,
        progress,
    } = job;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let (wtx, mut wrx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let (htx, hash_task) = match hasher {
        Some(mut h) => {
            let (htx, mut hrx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
            let task = tokio::task::spawn_blocking(move || {
                while let Some(b) = hrx.blocking_recv() {
                    h.update(&b);
                }
                h
            });
            (Some(htx), Some(task))
        }
        None => (None, None),
    };

    // Durability points run on their own thread so that an fsync (which can take a while for
    // hundreds of MiB of dirty pages) never stalls the writer: the writer hands over the offset it
    // has written up to, the syncer fsyncs and only then records that offset in the checkpoint.
    // A busy syncer simply skips a point (the next one covers it).
    let (stx, srx) = std::sync::mpsc::sync_channel::<u64>(1);
    let sync_task = sync_file.map(|f| {
        tokio::task::spawn_blocking(move || -> Result<()> {
            while let Ok(upto) = srx.recv() {
                f.sync_data()
                    .map_err(|e| Error::io("syncing the destination", e))?;
                if let Some(cb) = on_durable.as_mut() {
                    cb(upto)?;
                }
            }
            Ok(())
        })
    });
    let syncing = sync_task.is_some();

    let wfile = file.clone();
    let wprogress = progress.clone();
    let write_task = tokio::task::spawn_blocking(move || -> (W, Result<u64>) {
        let mut written = already;
        let mut unsynced = 0u64;
        let mut last_sync = Instant::now();
        let mut last_progress = Instant::now();
        let mut next_report = already.saturating_add(sync_every);
        let report = |done: u64| {
            if let Some(p) = &wprogress {
                p(Progress {
                    disk_index,
                    file: wfile.clone(),
                    bytes_done: done,
                    bytes_total: total,
                });
            }
        };
        // First event: where this disk starts (non-zero when resumed from a checkpoint).
        report(written);
        while let Some(b) = wrx.blocking_recv() {
            if let Err(e) = out.write_all(&b) {
                return (out, Err(Error::io(format!("writing {wfile}"), e)));
            }
            written += b.len() as u64;
            unsynced += b.len() as u64;
            if syncing && (unsynced >= sync_every || last_sync.elapsed() >= SYNC_INTERVAL) {
                if let Err(e) = out.flush() {
                    return (out, Err(Error::io(format!("writing {wfile}"), e)));
                }
                match stx.try_send(written) {
                    Ok(()) => {
                        unsynced = 0;
                        last_sync = Instant::now();
                    }
                    Err(std::sync::mpsc::TrySendError::Full(_)) => {}
                    // The syncer failed; its error is reported when it is joined.
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                        return (out, Ok(written));
                    }
                }
            }
            // Progress: at least every `sync_every` bytes, otherwise throttled by time.
            if written >= next_report || last_progress.elapsed() >= PROGRESS_INTERVAL {
                report(written);
                last_progress = Instant::now();
                next_report = written.saturating_add(sync_every);
            }
        }
        drop(stx);
        if let Err(e) = out.flush() {
            return (out, Err(Error::io(format!("writing {wfile}"), e)));
        }
        report(written);
        (out, Ok(written))
    });

    // Reader loop on the async side.
    let mut got: u64 = 0;
    let read_result: Result<()> = async {
        loop {
            let want = match remaining {
                Some(r) => (r.saturating_sub(got)).min(CHUNK as u64) as usize,
                None => CHUNK,
            };
            // Read one byte past the announced end to detect over-long sources.
            let cap = if want == 0 { 1 } else { want };
            let mut buf = BytesMut::with_capacity(cap);
            let mut eof = false;
            while buf.len() < cap {
                let n = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(Error::Cancelled),
                    r = reader.read_buf(&mut buf) => r.map_err(|e| Error::Source {
                        disk: file.clone(),
                        message: e.to_string(),
                        retryable: true,
                    })?,
                };
                if n == 0 {
                    eof = true;
                    break;
                }
            }
            if want == 0 {
                if !buf.is_empty() {
                    return Err(Error::SourceTooLong {
                        disk: file.clone(),
                        expected: remaining.unwrap_or(0) + already,
                    });
                }
                return Ok(());
            }
            if !buf.is_empty() {
                got += buf.len() as u64;
                let chunk = buf.freeze();
                let sent = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(Error::Cancelled),
                    r = async {
                        let hashed = match &htx {
                            Some(htx) => htx.send(chunk.clone()).await.is_ok(),
                            None => true,
                        };
                        hashed && wtx.send(chunk).await.is_ok()
                    } => r,
                };
                if !sent {
                    // The writer stopped (its error is reported below).
                    return Ok(());
                }
            }
            if eof {
                if let Some(r) = remaining
                    && got < r
                {
                    return Err(Error::SourceTruncated {
                        disk: file.clone(),
                        expected: r + already,
                        got: got + already,
                    });
                }
                return Ok(());
            }
        }
    }
    .await;
    drop(htx);
    drop(wtx);
    // Always wait for both threads so nothing writes after we return.
    let (out, wres) = write_task.await.map_err(join_err)?;
    let hasher = match hash_task {
        Some(t) => Some(t.await.map_err(join_err)?),
        None => None,
    };
    let sres = match sync_task {
        Some(t) => t.await.map_err(join_err)?,
        None => Ok(()),
    };
    read_result?;
    let bytes = wres?;
    sres?;
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    Ok(CopyDone {
        out,
        digest: hasher.map(Hasher::finish_hex),
        bytes,
    })
}
