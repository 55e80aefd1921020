//! Notices to partners after the fact: billing (`burl`) on a counted impression.
//!
//! A notice never delays an auction or an event answer: it is fired on its own task, bounded
//! in time (`events.notice_timeout_ms`) and in number (`events.notice_concurrency` in flight,
//! a backlog of at most 16 times that; past it the notice is dropped and counted). Only
//! http(s) URLs are called. One attempt each: a partner that misses one sees it in
//! `bidgate_notices_total{result}`, and the event log has the billed impression.

use metrics::counter;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct Notifier {
    client: reqwest::Client,
    permits: Arc<Semaphore>,
    /// Notices accepted and not finished (in flight or waiting for a permit).
    backlog: Arc<AtomicUsize>,
    max_backlog: usize,
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Billing,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Billing => "billing",
        }
    }
}

impl Notifier {
    pub fn new(client: reqwest::Client, concurrency: usize, timeout: Duration) -> Self {
        Self {
            client,
            permits: Arc::new(Semaphore::new(concurrency)),
            backlog: Arc::new(AtomicUsize::new(0)),
            max_backlog: concurrency.saturating_mul(16),
            timeout,
        }
    }

    /// Fires a GET at `url` in the background. Returns at once.
    pub fn fire(&self, kind: Kind, partner: &str, url: &str) {
        let count = |result: &'static str| {
            counter!("bidgate_notices_total", "kind" => kind.label(), "partner" => partner.to_string(), "result" => result)
                .increment(1);
        };
        let Ok(parsed) = reqwest::Url::parse(url) else {
            count("refused");
            return;
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            count("refused");
            return;
        }
        if self.backlog.fetch_add(1, Ordering::AcqRel) >= self.max_backlog {
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            count("dropped");
            return;
        }
        let (client, permits, backlog, timeout) = (
            self.client.clone(),
            self.permits.clone(),
            self.backlog.clone(),
            self.timeout,
        );
        let partner = partner.to_string();
        tokio::spawn(async move {
            let result = match permits.acquire_owned().await {
                Ok(_permit) => {
                    match tokio::time::timeout(timeout, client.get(parsed).send()).await {
                        Ok(Ok(r)) if r.status().is_success() => "ok",
                        Ok(Ok(_)) => "http_error",
                        Ok(Err(_)) => "transport",
                        Err(_) => "timeout",
                    }
                }
                Err(_) => "dropped",
            };
            backlog.fetch_sub(1, Ordering::AcqRel);
            counter!("bidgate_notices_total", "kind" => kind.label(), "partner" => partner, "result" => result)
                .increment(1);
        });
    }
}
