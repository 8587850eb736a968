//! Exit statuses (DESIGN §4). The numbers are a contract with CI pipelines:
//! they never change meaning.

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success; with `--check`, nothing to change.
    Ok = 0,
    /// 1: an error (unreadable or bad input, failed write).
    Error = 1,
    /// 2: bad usage or a bad config file.
    Usage = 2,
    /// 3: `--check` found changes to make.
    Changes = 3,
    /// 4: the plan is blocked by a guard (connection budget, shared target,
    /// `max_pool_size`).
    Blocked = 4,
    /// 5: `--check` found too little data to decide on: a service without
    /// samples in the month or below `min_coverage`, or metrics of a service
    /// the config does not define.
    InsufficientData = 5,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}
