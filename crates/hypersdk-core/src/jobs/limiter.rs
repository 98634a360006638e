//! Admission control: at most N jobs at once overall and M per connection,
//! first come first served, without letting a busy connection hold up jobs
//! for idle ones. Limits can change while jobs wait.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::{CoreError, Result};

#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    max_global: usize,
    max_per_connection: usize,
    running: usize,
    per_connection: HashMap<String, usize>,
    waiters: VecDeque<Waiter>,
    next_seq: u64,
}

#[derive(Debug)]
struct Waiter {
    seq: u64,
    connection: Option<String>,
    wake: oneshot::Sender<()>,
}

/// A running slot; dropping it lets the next eligible job start.
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<Limiter>,
    connection: Option<String>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        state.release(self.connection.as_deref());
        state.dispatch();
    }
}

impl State {
    fn can_run(&self, connection: Option<&str>) -> bool {
        self.running < self.max_global
            && connection.is_none_or(|c| {
                self.per_connection.get(c).copied().unwrap_or(0) < self.max_per_connection
            })
    }

    fn take(&mut self, connection: Option<&str>) {
        self.running += 1;
        if let Some(c) = connection {
            *self.per_connection.entry(c.to_owned()).or_default() += 1;
        }
    }

    fn release(&mut self, connection: Option<&str>) {
        self.running = self.running.saturating_sub(1);
        if let Some(c) = connection
            && let Some(n) = self.per_connection.get_mut(c)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_connection.remove(c);
            }
        }
    }

    /// Hands free slots to waiters in arrival order, skipping those whose
    /// connection is at its limit.
    fn dispatch(&mut self) {
        let mut i = 0;
        while i < self.waiters.len() && self.running < self.max_global {
            if self.can_run(self.waiters[i].connection.as_deref()) {
                let Some(waiter) = self.waiters.remove(i) else {
                    break;
                };
                self.take(waiter.connection.as_deref());
                if waiter.wake.send(()).is_err() {
                    // Its job was cancelled while we chose it.
                    self.release(waiter.connection.as_deref());
                }
            } else {
                i += 1;
            }
        }
    }
}

impl Limiter {
    pub fn new(max_global: usize, max_per_connection: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            state: Mutex::new(State {
                max_global: max_global.max(1),
                max_per_connection: max_per_connection.max(1),
                running: 0,
                per_connection: HashMap::new(),
                waiters: VecDeque::new(),
                next_seq: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the counters consistent before any
        // call that could panic, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_limits(&self, max_global: usize, max_per_connection: usize) {
        let mut state = self.lock();
        state.max_global = max_global.max(1);
        state.max_per_connection = max_per_connection.max(1);
        state.dispatch();
    }

    pub fn running(&self) -> usize {
        self.lock().running
    }

    /// Waits for a slot; returns `Cancelled` if `cancel` fires first.
    pub async fn acquire(
        self: &Arc<Self>,
        connection: Option<String>,
        cancel: &CancellationToken,
    ) -> Result<Permit> {
        let (rx, seq) = {
            let mut state = self.lock();
            if state.waiters.is_empty() && state.can_run(connection.as_deref()) {
                state.take(connection.as_deref());
                return Ok(Permit {
                    limiter: Arc::clone(self),
                    connection,
                });
            }
            let (tx, rx) = oneshot::channel();
            let seq = state.next_seq;
            state.next_seq += 1;
            state.waiters.push_back(Waiter {
                seq,
                connection: connection.clone(),
                wake: tx,
            });
            // The newcomer may be eligible even though others wait (they may
            // all be blocked on their connection's limit).
            state.dispatch();
            (rx, seq)
        };
        tokio::select! {
            woke = rx => match woke {
                Ok(()) => Ok(Permit { limiter: Arc::clone(self), connection }),
                Err(_) => Err(CoreError::Internal("job limiter dropped a waiter".into())),
            },
            () = cancel.cancelled() => {
                let mut state = self.lock();
                if let Some(pos) = state.waiters.iter().position(|w| w.seq == seq) {
                    state.waiters.remove(pos);
                } else {
                    // Dispatch chose us in the same instant and counted the
                    // slot for us: hand it on.
                    state.release(connection.as_deref());
                    state.dispatch();
                }
                Err(CoreError::Cancelled)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn try_acquire(l: &Arc<Limiter>, conn: Option<&str>) -> Option<Permit> {
        let token = CancellationToken::new();
        tokio::time::timeout(
            Duration::from_millis(50),
            l.acquire(conn.map(str::to_owned), &token),
        )
        .await
        .ok()
        .and_then(|r| r.ok())
    }

    #[tokio::test]
    async fn global_and_per_connection_limits_hold() {
        let l = Limiter::new(3, 2);
        let a1 = try_acquire(&l, Some("a")).await.expect("a1");
        let _a2 = try_acquire(&l, Some("a")).await.expect("a2");
        assert!(
            try_acquire(&l, Some("a")).await.is_none(),
            "per-connection limit"
        );
        let _b1 = try_acquire(&l, Some("b"))
            .await
            .expect("b1 runs beside a's");
        assert!(try_acquire(&l, Some("c")).await.is_none(), "global limit");
        assert_eq!(l.running(), 3);
        drop(a1);
        assert!(try_acquire(&l, Some("c")).await.is_some());
    }

    #[tokio::test]
    async fn waiters_start_in_order_and_busy_connections_do_not_block_others() {
        let l = Limiter::new(2, 1);
        let token = CancellationToken::new();
        let first = l.acquire(Some("a".into()), &token).await.expect("first");
        // Second job for "a" waits on its connection; a job for "b" must not.
        let l2 = Arc::clone(&l);
        let t2 = token.clone();
        let second = tokio::spawn(async move { l2.acquire(Some("a".into()), &t2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b = try_acquire(&l, Some("b")).await;
        assert!(b.is_some(), "b must overtake the blocked a");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(1), second)
            .await
            .expect("second woke")
            .expect("join")
            .expect("permit");
        drop(second);
        drop(b);
        assert_eq!(l.running(), 0);
    }

    #[tokio::test]
    async fn cancelling_a_waiter_frees_its_place() {
        let l = Limiter::new(1, 1);
        let held = try_acquire(&l, None).await.expect("held");
        let token = CancellationToken::new();
        let l2 = Arc::clone(&l);
        let t2 = token.clone();
        let waiting = tokio::spawn(async move { l2.acquire(None, &t2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        token.cancel();
        let res = waiting.await.expect("join");
        assert!(matches!(res, Err(CoreError::Cancelled)));
        drop(held);
        assert_eq!(l.running(), 0);
        assert!(try_acquire(&l, None).await.is_some());
    }

    #[tokio::test]
    async fn raising_the_limit_starts_waiters() {
        let l = Limiter::new(1, 4);
        let _held = try_acquire(&l, None).await.expect("held");
        let token = CancellationToken::new();
        let l2 = Arc::clone(&l);
        let waiting = tokio::spawn(async move { l2.acquire(None, &token).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        l.set_limits(2, 4);
        let woke = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(matches!(woke, Ok(Ok(Ok(())))));
    }
}
