use super::*;
use crate::analyze::simulator::PerCheckout;

/// A block whose load swings around the candidates' limits, with a deploy
/// (capacity 6 → 9) half-way and a sample every minute.
fn block(seed: u64, minutes: usize) -> Block {
    Block {
        minutes: (0..minutes)
            .map(|i| BlockMinute {
                // 2 to 9 Erlangs at 0.2 s holds.
                rate: 10.0 + 35.0 * ((i as f64 / 3.0).sin() + 1.0) / 2.0,
                burst_shape: (i % 4 == 0).then_some(5.0),
                deployed: if i < minutes / 2 { (4, 6) } else { (6, 9) },
                sample_at: Some((i * 7 % 60) as f64),
            })
            .collect(),
        seed,
    }
}

/// Each lane on its own: a plain pool fed the same events.
fn alone(block: &Block, size: LaneSize, hold: &HoldTime, timeout: f64) -> (LaneResult, Vec<f64>) {
    let mut pool: Option<Pool<PerCheckout>> = None;
    let mut sampled = Vec::new();
    for event in events(block, hold) {
        match event {
            Event::Minute(i) => {
                let (pool_size, capacity) = size.at(&block.minutes[i]);
                match &mut pool {
                    None => {
                        let config = PoolConfig {
                            pool_size,
                            max_overflow: (capacity - u64::from(pool_size)) as u32,
                            timeout,
                            connect: 0.0,
                            recycle: None,
                            pre_ping: false,
                        };
                        pool = Some(Pool::in_flight(
                            config,
                            capacity,
                            0.0,
                            std::iter::empty(),
                            PerCheckout::default(),
                        ));
                    }
                    Some(p) => p.set_capacity(i as f64 * 60.0, capacity),
                }
            }
            Event::Sample(s) => {
                let p = pool.as_mut().unwrap();
                p.run_until(s);
                sampled.push(p.in_use() as u32);
            }
            Event::Arrival(c) => {
                let p = pool.as_mut().unwrap();
                p.run_until(c.at);
                p.arrive(c);
            }
        }
    }
    let mut p = pool.unwrap();
    let end = block.minutes.len() as f64 * 60.0;
    p.run_until(end);
    p.advance(end);
    let (busy, saturated) = (p.counts.busy_seconds, p.counts.saturated_seconds);
    p.run_until(f64::INFINITY);
    let mut counts = p.counts;
    counts.busy_seconds = busy;
    counts.saturated_seconds = saturated;
    counts.opened = 0;
    let mut waits = WaitHistogram::default();
    for &w in &p.rec.waits {
        waits.add(w);
    }
    let result = LaneResult {
        counts,
        waits,
        sampled: if size == LaneSize::Deployed {
            sampled
        } else {
            Vec::new()
        },
    };
    (result, p.rec.waits)
}

#[test]
fn coupled_lanes_equal_each_pool_simulated_on_its_own() {
    let sizes = [
        LaneSize::Fixed {
            pool_size: 2,
            max_overflow: 1,
        },
        LaneSize::Fixed {
            pool_size: 4,
            max_overflow: 2,
        },
        LaneSize::Deployed,
        LaneSize::Fixed {
            pool_size: 6,
            max_overflow: 3,
        },
        LaneSize::Fixed {
            pool_size: 40,
            max_overflow: 20,
        },
    ];
    for (seed, hold) in [
        (1, HoldTime::Exponential(0.2)),
        (2, HoldTime::Lognormal { mean: 0.2, sigma: 1.2 }),
        (3, HoldTime::Empirical(vec![0.01, 0.02, 0.05, 0.1, 0.3, 1.5].into())),
    ] {
        let b = block(seed, 30);
        let together = run_block(&b, &sizes, &hold, 2.0);
        let mut waited_somewhere = false;
        for (size, got) in sizes.iter().zip(&together) {
            let (want, _) = alone(&b, *size, &hold, 2.0);
            let (g, w) = (&got.counts, &want.counts);
            assert_eq!(
                (g.checkouts, g.timeouts, g.waited, g.peak_in_use),
                (w.checkouts, w.timeouts, w.waited, w.peak_in_use),
                "{size:?}, seed {seed}"
            );
            assert!(
                (g.busy_seconds - w.busy_seconds).abs() < 1e-6 * w.busy_seconds.max(1.0),
                "{size:?}: {g:?} vs {w:?}"
            );
            assert!(
                (g.saturated_seconds - w.saturated_seconds).abs() < 1e-6,
                "{size:?}: {g:?} vs {w:?}"
            );
            assert_eq!(got.waits.zero, want.waits.zero, "{size:?}");
            for p in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                assert_eq!(got.waits.quantile(p), want.waits.quantile(p), "{size:?} p{p}");
            }
            assert_eq!(got.sampled, want.sampled, "{size:?}");
            waited_somewhere |= w.waited > 0;
        }
        assert!(waited_somewhere, "the block must reach some limit (seed {seed})");
        // The smallest pool times out, the largest never waits.
        assert!(together[0].counts.timeouts > 0, "seed {seed}");
        assert_eq!(together[4].counts.waited, 0);
        assert_eq!(together[2].sampled.len(), 30);
    }
}

#[test]
fn the_same_block_gives_the_same_events() {
    let b = block(9, 5);
    let hold = HoldTime::Exponential(0.2);
    let a: Vec<Event> = events(&b, &hold).collect();
    let again: Vec<Event> = events(&b, &hold).collect();
    assert_eq!(a, again);
    let minutes = a.iter().filter(|e| matches!(e, Event::Minute(_))).count();
    let samples = a.iter().filter(|e| matches!(e, Event::Sample(_))).count();
    assert_eq!((minutes, samples), (5, 5));
    // Time order.
    let times: Vec<f64> = a
        .iter()
        .map(|e| match e {
            Event::Minute(i) => *i as f64 * 60.0,
            Event::Sample(s) => *s,
            Event::Arrival(c) => c.at,
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // Arrivals at the stated rates: about Σ rate × 60 (two minutes carry a
    // burst factor of variance 1/5).
    let arrivals = a.iter().filter(|e| matches!(e, Event::Arrival(_))).count() as f64;
    let expected: f64 = b.minutes.iter().map(|m| m.rate * 60.0).sum();
    assert!((arrivals / expected - 1.0).abs() < 0.25, "{arrivals} vs {expected}");
}

#[test]
fn wait_histogram_quantiles_count_the_checkouts_that_did_not_wait() {
    let mut h = WaitHistogram::default();
    for _ in 0..90 {
        h.add(0.0);
    }
    for i in 1..=10 {
        h.add(f64::from(i) * 0.1);
    }
    assert_eq!(h.count(), 100);
    assert_eq!(h.quantile(0.5), 0.0);
    assert_eq!(h.quantile(0.9), 0.0);
    assert!((h.quantile(0.95) - 0.5).abs() < 0.01, "{}", h.quantile(0.95));
    assert!((h.quantile(1.0) - 1.0).abs() < 0.02, "{}", h.quantile(1.0));
    let mut other = WaitHistogram::default();
    other.add(2.0);
    h.merge(&other);
    assert_eq!(h.count(), 101);
    assert_eq!(WaitHistogram::default().quantile(0.99), 0.0);
}

#[test]
fn gamma_draws_have_the_stated_mean_and_variance() {
    let mut rng = Rng::new(5);
    for k in [0.5, 2.0, 20.0] {
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.gamma(k)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - k).abs() / k < 0.02, "k {k}: mean {mean}");
        assert!((var - k).abs() / k < 0.05, "k {k}: variance {var}");
    }
}
