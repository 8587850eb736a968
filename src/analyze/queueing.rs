//! Erlang C (M/M/c): the closed form the QueuePool simulator is checked
//! against (`simulate`'s synthetic mode prints it beside the simulation; the
//! review's queueing check is the simulation, [`super::study`]). A pool of
//! `c = pool_size + max_overflow` connections seen as an M/M/c queue. Pure and numerically stable
//! for pools of 1..1000 connections and more: Erlang B by its recurrence
//! `B(k) = A·B(k−1) / (k + A·B(k−1))` — no factorials, no powers.
//!
//! - offered load `A` (Erlangs) = mean connections in use in the busiest hour;
//! - hold time `W` = mean time a checkout holds its connection;
//! - `C(c, A)` = probability that a checkout has to wait;
//! - mean wait = `C · W / (c − A)`;
//! - `P(wait > t)` = `C · exp(−(c − A) · t / W)` — the chance of SQLAlchemy's
//!   "QueuePool limit … reached, connection timed out" with `t = pool_timeout`.
//!
//! When `A ≥ c` the queue is unstable: every checkout waits and the queue
//! grows without bound. [`QueueCheck::unstable`] says so explicitly, with
//! `P(wait) = P(wait > t) = 1` and no mean wait (`None`, never ∞ or NaN), so a
//! report can word it instead of printing a number that is not one.

/// Erlang B: the blocking probability of `c` servers under load `a`.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the probability that an arrival waits.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    if a >= f64::from(c) {
        return 1.0;
    }
    let b = erlang_b(c, a);
    let c = f64::from(c);
    c * b / (c - a * (1.0 - b))
}

/// What the queueing check says about one pool size.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct QueueCheck {
    /// Servers (`pool_size + max_overflow`).
    pub connections: u32,
    /// Offered load, Erlangs.
    pub offered_load: f64,
    /// Probability that a checkout waits (1 when unstable).
    pub p_wait: f64,
    /// Mean wait of all checkouts, seconds; `None` when unstable (it has no
    /// finite value: the queue grows for as long as the load lasts).
    pub mean_wait_seconds: Option<f64>,
    /// Probability that a checkout waits longer than the timeout (1 when unstable).
    pub p_timeout: f64,
    /// Offered load at or beyond the connections (`A ≥ c`): every checkout
    /// waits and the queue grows.
    pub unstable: bool,
}

/// Checks `connections` servers at load `a` with hold time `hold_seconds` and
/// timeout `timeout_seconds`.
pub fn check(connections: u32, a: f64, hold_seconds: f64, timeout_seconds: f64) -> QueueCheck {
    let spare = f64::from(connections) - a;
    // A NaN load is no load poolcap can check: unstable, never a NaN figure.
    if spare.is_nan() || spare <= 0.0 {
        return QueueCheck {
            connections,
            offered_load: a,
            p_wait: 1.0,
            mean_wait_seconds: None,
            p_timeout: 1.0,
            unstable: true,
        };
    }
    let c = erlang_c(connections, a);
    let mean_wait = c * hold_seconds / spare;
    let p_timeout = (c * (-spare * timeout_seconds / hold_seconds).exp()).min(1.0);
    QueueCheck {
        connections,
        offered_load: a,
        p_wait: c,
        mean_wait_seconds: mean_wait.is_finite().then_some(mean_wait),
        p_timeout: if p_timeout.is_nan() { 1.0 } else { p_timeout },
        unstable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference values computed with exact rational arithmetic (Python
    /// `fractions`, the textbook formula with factorials), printed to 17 digits.
    #[allow(clippy::excessive_precision)]
    const REFERENCE: [(u32, f64, f64); 8] = [
        (2, 1.0, 0.333_333_333_333_333_31),
        (10, 8.0, 0.409_180_150_796_443_54),
        (20, 15.0, 0.160_429_387_416_923_61),
        (30, 25.0, 0.249_893_166_886_906_55),
        (50, 45.0, 0.363_864_467_206_988_4),
        (100, 90.0, 0.216_940_480_906_366_39),
        (5, 0.5, 0.000_175_500_175_500_175_49),
        (1000, 950.0, 0.068_253_415_377_141_427),
    ];

    #[test]
    fn matches_reference_values() {
        for (c, a, expected) in REFERENCE {
            let got = erlang_c(c, a);
            assert!(
                ((got - expected) / expected).abs() < 1e-9,
                "C({c}, {a}) = {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn unstable_and_idle_pools() {
        assert_eq!(erlang_c(10, 10.0), 1.0);
        assert_eq!(erlang_c(10, 0.0), 0.0);
        assert_eq!(erlang_c(10, 12.0), 1.0);
    }

    #[test]
    fn at_saturation_the_queue_is_unstable() {
        // A = c: the mean wait would divide by c − A = 0.
        let q = check(30, 30.0, 0.05, 30.0);
        assert!(q.unstable);
        assert_eq!((q.p_wait, q.p_timeout, q.mean_wait_seconds), (1.0, 1.0, None));
        assert_eq!((q.connections, q.offered_load), (30, 30.0));
    }

    #[test]
    fn beyond_saturation_the_queue_is_unstable() {
        for a in [30.000_001, 31.0, 45.0, 1e12, f64::INFINITY, f64::NAN] {
            let q = check(30, a, 0.05, 30.0);
            assert!(q.unstable, "A = {a}");
            assert_eq!(
                (q.p_wait, q.p_timeout, q.mean_wait_seconds),
                (1.0, 1.0, None),
                "A = {a}"
            );
        }
    }

    #[test]
    fn just_below_saturation_the_queue_is_stable_but_long() {
        for (c, a) in [(30, 29.999), (30, 30.0 - 1e-9), (1, 0.999_999), (1000, 999.99)] {
            let q = check(c, a, 0.05, 30.0);
            assert!(!q.unstable, "c = {c}, A = {a}");
            assert!(q.p_wait > 0.99 && q.p_wait <= 1.0, "c = {c}, A = {a}: {q:?}");
            let wait = q.mean_wait_seconds.expect("a stable queue has a mean wait");
            assert!(wait.is_finite() && wait > 1.0, "c = {c}, A = {a}: {q:?}");
            assert!(q.p_timeout > 0.0 && q.p_timeout <= q.p_wait, "c = {c}, A = {a}: {q:?}");
        }
        // Continuous with the unstable side: P(wait > t) → 1 as A → c.
        let q = check(30, 30.0 - 1e-9, 0.05, 30.0);
        assert!(q.p_timeout > 0.999, "{q:?}");
        // The wait grows without bound as A approaches c.
        let nearer = check(30, 29.9999, 0.05, 30.0).mean_wait_seconds.unwrap();
        let farther = check(30, 29.99, 0.05, 30.0).mean_wait_seconds.unwrap();
        assert!(nearer > 50.0 * farther, "{nearer} vs {farther}");
    }

    #[test]
    fn timeout_probability_is_the_tail_of_the_wait() {
        // 30 connections at 25 Erlangs, 50 ms holds, 30 s timeout: vanishingly small.
        let q = check(30, 25.0, 0.05, 30.0);
        assert!(q.p_timeout < 1e-100);
        // With 1 s holds and a 1 s timeout the tail is visible.
        let q = check(30, 25.0, 1.0, 1.0);
        assert!((q.p_timeout - q.p_wait * (-5.0f64).exp()).abs() < 1e-15);
        assert!((q.mean_wait_seconds.unwrap() - q.p_wait / 5.0).abs() < 1e-15);
    }

    proptest! {
        /// Adding a connection never makes waiting more likely.
        #[test]
        fn p_wait_falls_as_servers_are_added(c in 1u32..1000, load in 0.01f64..0.999) {
            let a = load * f64::from(c);
            prop_assert!(erlang_c(c + 1, a) <= erlang_c(c, a) + 1e-15);
            let b = erlang_b(c, a);
            prop_assert!((0.0..=1.0).contains(&b));
        }
    }
}
