//! Keeping tasks alive for months: a task that fails or panics is logged, counted and started
//! again after a growing delay, and one task's failure never stops the others.
//!
//! Panics must unwind for this to work (bluez-async 0.9 can panic inside a task right after a
//! connection): never build the gateway with `panic = "abort"`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Retry delays that double from `min` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff { min, max: max.max(min), next: min }
    }

    /// The delay to wait now; the following one is twice as long (up to the maximum).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Aborts the task when dropped, so that stopping a supervisor stops what it supervises.
pub(crate) struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into()),
        Err(e) => e.to_string(),
    }
}

/// Runs `make()` as a task until it returns `Ok(())` or `shutdown` is cancelled; when it
/// returns an error or panics, counts it in `restarts` and starts it again after a backoff.
/// A run that lasted longer than the backoff's maximum resets the backoff.
pub async fn supervise<F, Fut, E>(
    name: String,
    shutdown: CancellationToken,
    mut backoff: Backoff,
    restarts: Arc<AtomicU64>,
    mut make: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let started = Instant::now();
        let mut task = AbortOnDrop(tokio::spawn(make()));
        match (&mut task.0).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => tracing::warn!(task = %name, error = %e, "task failed; it will be restarted"),
            Err(e) if e.is_panic() => {
                tracing::warn!(task = %name, panic = %panic_text(e), "task panicked; it will be restarted")
            }
            Err(_) => return,
        }
        restarts.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() > backoff.max {
            backoff.reset();
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let delays: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_panicking_or_failing_task_is_restarted_until_it_finishes() {
        let runs = Arc::new(AtomicU64::new(0));
        let restarts = Arc::new(AtomicU64::new(0));
        let r = runs.clone();
        let fast = Backoff::new(Duration::from_millis(1), Duration::from_millis(2));
        let sup = supervise("flaky".into(), CancellationToken::new(), fast, restarts.clone(), move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("No match with that id found"),
                    1 => Err("link lost"),
                    _ => Ok(()),
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), sup).await.expect("the supervisor finishes");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(restarts.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn shutdown_stops_the_supervised_task() {
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut tx = Some(tx);
        let sup = tokio::spawn(supervise(
            "forever".into(),
            shutdown.clone(),
            Backoff::new(Duration::from_millis(1), Duration::from_millis(1)),
            Arc::new(AtomicU64::new(0)),
            move || {
                let guard = tx.take();
                async move {
                    // Holds the sender until aborted: the receiver sees it dropped.
                    let _guard = guard;
                    std::future::pending::<Result<(), String>>().await
                }
            },
        ));
        shutdown.cancel();
        sup.abort();
        let _ = sup.await;
        assert!(tokio::time::timeout(Duration::from_secs(10), rx).await.expect("task stopped").is_err());
    }
}
