use super::*;
use crate::config::AlertRule;
use proptest::prelude::*;

const MAX_GAP: i64 = 180;

fn settings(window: Window, max_gap: Option<i64>) -> AnalyzerSettings {
    AnalyzerSettings {
        windows: vec![window],
        episode_window: window,
        alerts: vec![
            AlertRule {
                name: "warning".into(),
                above: 0.8,
                for_seconds: 300,
            },
            AlertRule {
                name: "critical".into(),
                above: 0.9,
                for_seconds: 120,
            },
        ],
        sustained_utilization: 0.8,
        sustained_for: 300,
        max_gap,
        reorder_window: 3600,
        service_pools: vec![PoolSize {
            pool_size: 10,
            max_overflow: 5,
        }],
        overflow_factor: 0.5,
        minutes: None,
        detail: None,
    }
}

fn obs(ts: i64, checked_out: u32, pool_size: u32) -> Observation {
    Observation {
        series: 0,
        service: 0,
        ts,
        checked_out,
        pool_size,
        max_overflow: None,
        waiting: None,
        timeouts: None,
    }
}

fn analyse(samples: &[(i64, u32, u32)], window: Window, max_gap: Option<i64>) -> Analysis {
    let mut a = Analyzer::new(settings(window, max_gap));
    for &(ts, c, p) in samples {
        a.push(obs(ts, c, p)).unwrap();
    }
    a.finish()
}

/// The reference: the step function evaluated second by second.
fn per_second(samples: &[(i64, u32, u32)], max_gap: i64) -> (i64, Vec<Option<(u32, u32)>>) {
    let t0 = samples[0].0;
    let t_end = samples.last().unwrap().0 + max_gap;
    let mut v = vec![None; (t_end - t0) as usize];
    for (i, &(ts, c, p)) in samples.iter().enumerate() {
        let next = samples.get(i + 1).map_or(i64::MAX, |s| s.0);
        let end = next.min(ts + max_gap);
        for t in ts..end {
            v[(t - t0) as usize] = Some((c, p));
        }
    }
    (t0, v)
}

fn brute_episodes(samples: &[(i64, u32, u32)], max_gap: i64, above: f64, for_s: i64) -> Vec<(i64, i64, i64, f64)> {
    let (t0, v) = per_second(samples, max_gap);
    let mut out = Vec::new();
    let mut run: Option<(i64, f64)> = None;
    for (i, s) in v.iter().chain(std::iter::once(&None)).enumerate() {
        let t = t0 + i as i64;
        match s {
            Some((c, p)) if f64::from(*c) > above * f64::from(*p) => {
                let u = f64::from(*c) / f64::from(*p);
                run = Some(match run {
                    Some((start, peak)) => (start, peak.max(u)),
                    None => (t, u),
                });
            }
            _ => {
                if let Some((start, peak)) = run.take()
                    && t - start > for_s
                {
                    out.push((start, start + for_s, t, peak));
                }
            }
        }
    }
    out
}

fn series_strategy() -> impl Strategy<Value = Vec<(i64, u32, u32)>> {
    prop::collection::vec(
        (
            prop_oneof![9 => 1i64..=90, 1 => 150i64..=900],
            0u32..=15,
            prop_oneof![Just(10u32), Just(12u32)],
        ),
        1..120,
    )
    .prop_map(|steps| {
        let mut t = 1_000_000;
        steps
            .into_iter()
            .map(|(dt, c, p)| {
                t += dt;
                (t, c, p)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Alert replay equals the second-by-second reference on random series with gaps.
    #[test]
    fn alert_replay_matches_brute_force(samples in series_strategy()) {
        let window = Window { start: 0, end: 2_000_000 };
        let analysis = analyse(&samples, window, Some(MAX_GAP));
        let inst = &analysis.instances[0];
        for (rule, (above, for_s)) in [(0.8, 300), (0.9, 120)].into_iter().enumerate() {
            let got: Vec<_> = inst
                .alerts
                .iter()
                .filter(|a| a.rule == rule)
                .map(|a| (a.episode.start, a.episode.fired_at, a.episode.end, a.episode.peak_utilization))
                .collect();
            prop_assert_eq!(got, brute_episodes(&samples, MAX_GAP, above, for_s));
        }
    }

    /// Time-weighted statistics equal the second-by-second reference.
    #[test]
    fn statistics_match_brute_force(samples in series_strategy(), cut in 0i64..2000) {
        let window = Window { start: samples[0].0 + cut, end: samples[0].0 + cut + 5000 };
        let analysis = analyse(&samples, window, Some(MAX_GAP));
        let stats = &analysis.instances[0].windows[0];
        let (t0, v) = per_second(&samples, MAX_GAP);
        let inside: Vec<(u32, u32)> = (window.start..window.end)
            .filter_map(|t| v.get((t - t0) as usize).copied().flatten())
            .collect();
        prop_assert_eq!(stats.covered_seconds, inside.len() as i64);
        if !inside.is_empty() {
            let mean = inside.iter().map(|(c, p)| f64::from(*c) / f64::from(*p)).sum::<f64>() / inside.len() as f64;
            prop_assert!((stats.mean_utilization - mean).abs() < 1e-9);
            let mut us: Vec<f64> = inside.iter().map(|(c, p)| f64::from(*c) / f64::from(*p)).collect();
            us.sort_by(f64::total_cmp);
            let rank = ((0.95 * us.len() as f64).ceil() as usize).max(1) - 1;
            prop_assert!((stats.p95_utilization - us[rank]).abs() < 1e-12);
            let above = us.iter().filter(|u| **u > 0.8).count() as i64;
            prop_assert_eq!(stats.seconds_above[1], above);
        }
        // One instance: the service view is the same.
        let service = &analysis.services[0].windows[0];
        prop_assert_eq!(service.covered_seconds, stats.covered_seconds);
        prop_assert!((service.mean_utilization - stats.mean_utilization).abs() < 1e-9);
    }

    /// Rows out of time order (within the reorder window) give the same result as sorted rows.
    #[test]
    fn local_disorder_is_repaired(samples in series_strategy(), seed in any::<u64>()) {
        let window = Window { start: 0, end: 2_000_000 };
        let mut shuffled = samples.clone();
        // Swap neighbours pseudo-randomly: displacement stays far below the 1 h window.
        let mut rng = crate::generate::Rng::new(seed);
        for i in 1..shuffled.len() {
            if rng.below(3) == 0 {
                shuffled.swap(i - 1, i);
            }
        }
        let a = analyse(&samples, window, None);
        let b = analyse(&shuffled, window, None);
        prop_assert_eq!(&a.instances[0].windows, &b.instances[0].windows);
        prop_assert_eq!(&a.instances[0].alerts, &b.instances[0].alerts);
    }
}

#[test]
fn gap_longer_than_max_gap_breaks_an_episode_and_coverage() {
    // 60 s samples at 90% for 4 minutes, a 10-minute hole, then 4 more minutes.
    let mut samples: Vec<(i64, u32, u32)> = (0..4).map(|i| (i * 60, 9, 10)).collect();
    samples.extend((0..5).map(|i| (840 + i * 60, 9, 10)));
    let window = Window { start: 0, end: 1200 };
    let analysis = analyse(&samples, window, None);
    let inst = &analysis.instances[0];
    assert_eq!(inst.max_gap, 180, "3 × the 60 s median interval");
    // First run: 0..180+180 = 360 s covered (last sample held max_gap); second 840..1200.
    assert_eq!(inst.windows[0].covered_seconds, 360 + 360);
    assert!((inst.windows[0].coverage - 0.6).abs() < 1e-12);
    // Each run lasts 6 minutes > 5 min warning: two warnings, not one 20-minute episode.
    let warnings: Vec<_> = inst
        .alerts
        .iter()
        .filter(|a| a.rule == 0)
        .map(|a| (a.episode.start, a.episode.end))
        .collect();
    assert_eq!(warnings, vec![(0, 360), (840, 1260)]);
}

#[test]
fn overflow_utilization_above_one_and_saturation() {
    // pool 10 + overflow 5: 15 checked out is 150% utilization and saturated.
    let samples = [(0, 12, 10), (60, 15, 10), (120, 15, 10), (180, 5, 10)];
    let analysis = analyse(&samples, Window { start: 0, end: 240 }, Some(60));
    let w = &analysis.instances[0].windows[0];
    assert_eq!(w.max_utilization, 1.5);
    assert_eq!(w.saturated_seconds, 120);
    assert_eq!(w.seconds_above, [180, 180, 180]);
    assert!((w.mean_utilization - (1.2 + 1.5 + 1.5 + 0.5) / 4.0).abs() < 1e-12);
    assert_eq!(analysis.services[0].windows[0].saturated_seconds, 120);
}

#[test]
fn service_utilization_is_the_ratio_of_sums() {
    let window = Window { start: 0, end: 600 };
    let mut a = Analyzer::new(settings(window, Some(60)));
    for t in (0..600).step_by(60) {
        a.push(Observation {
            series: 0,
            ..obs(t, 2, 10)
        })
        .unwrap();
        a.push(Observation {
            series: 1,
            ..obs(t, 18, 20)
        })
        .unwrap();
    }
    let analysis = a.finish();
    // Σ checked_out / Σ pool_size = 20 / 30, not the mean of 0.2 and 0.9.
    assert!((analysis.services[0].windows[0].mean_utilization - 20.0 / 30.0).abs() < 1e-12);
}

#[test]
fn dst_month_in_london_counts_every_hour() {
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let oct = crate::model::window::Month { year: 2026, month: 10 }.window(&tz);
    let samples: Vec<(i64, u32, u32)> = (0..)
        .map(|i| oct.start + i * 60)
        .take_while(|t| *t < oct.end)
        .map(|t| (t, 5, 10))
        .collect();
    let analysis = analyse(&samples, oct, None);
    let w = &analysis.instances[0].windows[0];
    // 31 days + the hour of the change back to GMT, every second covered.
    assert_eq!(w.covered_seconds, 31 * 86_400 + 3600);
    assert_eq!(w.coverage, 1.0);
    assert_eq!(w.samples, 31 * 1440 + 60);
}

#[test]
fn late_and_conflicting_samples_are_rejected_not_misplaced() {
    let window = Window { start: 0, end: 100_000 };
    let mut a = Analyzer::new(settings(window, Some(180)));
    for t in (0..20_000).step_by(60) {
        a.push(obs(t, 5, 10)).unwrap();
    }
    let late = a.push(obs(30, 9, 10)).unwrap_err();
    assert_eq!(late.code, "out-of-order");
    a.push(obs(19_980, 5, 10)).unwrap(); // exact duplicate: fine
    let conflict = a.push(obs(19_980, 6, 10)).unwrap_err();
    assert_eq!(conflict.code, "conflicting-duplicate");
    let analysis = a.finish();
    assert_eq!(analysis.instances[0].windows[0].samples, 334);
}

#[test]
fn timeouts_count_increases_and_resets() {
    let window = Window { start: 0, end: 1000 };
    let mut a = Analyzer::new(settings(window, Some(120)));
    for (t, total) in [(0, 5), (60, 7), (120, 7), (180, 1), (240, 4)] {
        a.push(Observation {
            timeouts: Some(total),
            ..obs(t, 3, 10)
        })
        .unwrap();
    }
    let analysis = a.finish();
    // +2, +0, reset (+1), +3.
    assert_eq!(analysis.instances[0].windows[0].timeouts, 6);
    assert_eq!(analysis.services[0].windows[0].timeouts, 6);
}
