//! The `[event_log]` settings. Only stored here: `dir` is resolved and `sample_auctions`
//! applied by the caller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[event_log]` section of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EventLogConfig {
    /// Directory of the hourly files; unset = no event log. Created if missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// `never` (the OS decides), `interval` (fsync every `fsync_interval_ms` when something
    /// was written), `always` (fsync before acknowledging, group commit).
    #[serde(default)]
    pub fsync: Fsync,
    /// With `fsync = "interval"`: a machine crash loses at most about this much of the latest
    /// records (a process crash loses nothing already written).
    #[serde(default = "defaults::fsync_interval_ms")]
    pub fsync_interval_ms: u64,
    /// Records waiting for the writer; past this, records are dropped (and counted), never
    /// waited for. At least 1.
    #[serde(default = "defaults::queue_capacity")]
    pub queue_capacity: usize,
    /// Share of auctions recorded (events are always recorded): 0.0..=1.0. The caller samples;
    /// this module only stores the setting.
    #[serde(default = "defaults::sample_auctions")]
    pub sample_auctions: f64,
    /// Record every partner's answer time and every bid (not only the winners) on a share of
    /// auctions, for `bidgate whatif` to re-run them under other settings (docs/whatif.md).
    #[serde(default)]
    pub record_bids: bool,
    /// With `record_bids`: share of auctions whose bids are recorded, 0.0..=1.0 (such an
    /// auction's record is written whatever `sample_auctions` says).
    #[serde(default = "defaults::record_bids_sample")]
    pub record_bids_sample: f64,
}

/// When the writer fsyncs. Whatever the mode, a file is fsynced once more when it is finished
/// (the hour changes, or the log is closed): a finished hour is complete on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// Never on the write path: the OS decides. A process crash loses nothing written; a
    /// machine crash may lose recent lines.
    Never,
    /// Every `fsync_interval_ms`, when something was written since the last one.
    #[default]
    Interval,
    /// After every batch, before its durable appends are acknowledged.
    Always,
}

mod defaults {
    pub fn fsync_interval_ms() -> u64 {
        1000
    }
    pub fn queue_capacity() -> usize {
        65_536
    }
    pub fn sample_auctions() -> f64 {
        1.0
    }
    pub fn record_bids_sample() -> f64 {
        0.1
    }
}

impl Default for EventLogConfig {
    fn default() -> Self {
        Self {
            dir: None,
            fsync: Fsync::default(),
            fsync_interval_ms: defaults::fsync_interval_ms(),
            queue_capacity: defaults::queue_capacity(),
            sample_auctions: defaults::sample_auctions(),
            record_bids: false,
            record_bids_sample: defaults::record_bids_sample(),
        }
    }
}
