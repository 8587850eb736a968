//! The replay of the configured alert rules over metric history (DESIGN
//! §1.3), with the same Prometheus `for:` semantics the plan and the review
//! use: the analysis settings it runs with and the span it covers.

use crate::analyze::AnalyzerSettings;
use crate::config;
use crate::model::PoolSize;
use crate::model::window::Window;

/// The replay's span when neither `--from` nor `--to` is given: all the data.
pub const ALL_TIME: Window = Window {
    start: 946_684_800, // 2000-01-01T00:00:00Z
    end: 4_102_444_800, // 2100-01-01T00:00:00Z
};

/// The analysis that replays the alert rules over `window` (statistics for
/// that window only; no chart detail).
pub fn replay_settings(settings: &config::Settings, window: Window) -> AnalyzerSettings {
    // Capacity (for saturation) needs each service's overflow: the configured
    // pool; samples that carry max_overflow use their own.
    let service_pools: Vec<PoolSize> = settings
        .services
        .iter()
        .map(|s| {
            s.current.unwrap_or(PoolSize {
                pool_size: 0,
                max_overflow: 0,
            })
        })
        .collect();
    AnalyzerSettings {
        episode_window: window,
        windows: vec![window],
        alerts: settings.alerts.clone(),
        sustained_utilization: settings.policy.sustained_utilization,
        sustained_for: settings.policy.sustained_for,
        max_gap: settings.policy.max_gap,
        reorder_window: settings.policy.reorder_window,
        service_pools,
        overflow_factor: settings.policy.overflow_factor,
        minutes: None,
        detail: None,
    }
}
