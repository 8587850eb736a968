//! Erlang C (M/M/c): the closed form the QueuePool simulator is checked
//! against (`simulate`'s synthetic mode prints it beside the simulation; the
//! review's queueing check is the simulation, [`super::study`]). A pool of
//! `c = pool_size + max_overflow` connections under offered load `A`
//! (Erlangs) seen as an M/M/c queue: `C(c, A)` is the probability that a
//! checkout has to wait, and `P(wait > t) = C · exp(−(c − A) · t / W)` for
//! mean hold `W`. Numerically stable for pools of 1..1000 connections and
//! more: Erlang B by its recurrence `B(k) = A·B(k−1) / (k + A·B(k−1))` — no
//! factorials, no powers.

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
