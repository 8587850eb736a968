//! The settings of the pool simulation that the config holds and the
//! analysis reads: which hours of a month to simulate, and the shape of the
//! hold-time distribution when no slow log measures it; and the hold times
//! themselves, which the simulator and the load test draw from.

use crate::support::rng::Rng;

/// Which instance-hours of a month to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    /// The N busiest instance-hours of each service.
    Busiest(usize),
    /// Every covered hour.
    All,
}

impl Hours {
    /// Parses `busiest:N` or `all`.
    pub fn parse(text: &str) -> Result<Hours, String> {
        let bad = || {
            format!("{text:?}: write busiest:N (the N busiest hours of each service's pools, e.g. busiest:24) or all")
        };
        if text.trim() == "all" {
            return Ok(Hours::All);
        }
        let n = text.trim().strip_prefix("busiest:").ok_or_else(bad)?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || n > 100_000 {
            return Err(format!("{text:?}: N must be from 1 to 100000"));
        }
        Ok(Hours::Busiest(n))
    }
}

impl std::fmt::Display for Hours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hours::Busiest(n) => write!(f, "busiest:{n}"),
            Hours::All => f.write_str("all"),
        }
    }
}

/// The shape of the hold-time distribution around `policy.hold_time_seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HoldShape {
    /// Exponential (M/M/c's assumption).
    Exponential,
    /// Lognormal with this σ of the log (1: p99 ≈ 4.5 × the median).
    Lognormal(f64),
    /// Every hold the mean.
    Fixed,
}

impl HoldShape {
    /// Parses `exponential`, `lognormal:SIGMA` or `fixed`.
    pub fn parse(text: &str) -> Result<HoldShape, String> {
        match text.trim() {
            "exponential" => Ok(HoldShape::Exponential),
            "fixed" => Ok(HoldShape::Fixed),
            other => {
                let sigma = other.strip_prefix("lognormal:").ok_or_else(|| {
                    format!("{text:?}: write exponential, fixed or lognormal:SIGMA (σ of the log, e.g. lognormal:1)")
                })?;
                let sigma: f64 = sigma
                    .trim()
                    .parse()
                    .map_err(|_| format!("{text:?}: σ must be a number, e.g. lognormal:1"))?;
                if !(sigma.is_finite() && sigma > 0.0 && sigma <= 4.0) {
                    return Err(format!("{text:?}: σ must be above 0 and at most 4"));
                }
                Ok(HoldShape::Lognormal(sigma))
            }
        }
    }
}

impl std::fmt::Display for HoldShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoldShape::Exponential => f.write_str("exponential"),
            HoldShape::Lognormal(s) => write!(f, "lognormal:{s}"),
            HoldShape::Fixed => f.write_str("fixed"),
        }
    }
}

/// How long a checkout holds its connection.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldTime {
    /// Always the same, seconds.
    Fixed(f64),
    /// Exponential with this mean, seconds.
    Exponential(f64),
    /// Lognormal with this mean (seconds) and the log's standard deviation.
    Lognormal {
        /// Mean, seconds.
        mean: f64,
        /// σ of ln(hold): 0 is fixed, 1 a heavy tail (p99 ≈ 4.5 × the median).
        sigma: f64,
    },
    /// Measured: equally likely quantiles, seconds, ascending (a draw picks
    /// one at random), e.g. from a slow log's duration histogram.
    Empirical(std::sync::Arc<[f64]>),
}

impl HoldTime {
    /// The mean hold, seconds.
    pub fn mean(&self) -> f64 {
        match self {
            HoldTime::Fixed(s) | HoldTime::Exponential(s) => *s,
            HoldTime::Lognormal { mean, .. } => *mean,
            HoldTime::Empirical(q) => q.iter().sum::<f64>() / q.len().max(1) as f64,
        }
    }

    /// One hold drawn from `rng`.
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        match self {
            HoldTime::Fixed(s) => *s,
            HoldTime::Exponential(mean) => -mean * (1.0 - rng.uniform()).ln(),
            HoldTime::Lognormal { mean, sigma } => {
                // E[e^X] = e^(μ + σ²/2) = mean.
                let mu = mean.ln() - sigma * sigma / 2.0;
                (mu + sigma * rng.normal()).exp()
            }
            HoldTime::Empirical(q) => q[rng.below(q.len() as u64) as usize],
        }
    }

    /// `quantiles` equally likely holds scaled so that their mean is `mean`
    /// (the measured mean: the histogram's quantiles cut off its far tail).
    pub fn empirical(quantiles: Vec<f64>, mean: f64) -> Option<HoldTime> {
        let n = quantiles.len() as f64;
        let m = quantiles.iter().sum::<f64>() / n;
        if quantiles.is_empty() || !(m > 0.0 && m.is_finite() && mean > 0.0 && mean.is_finite()) {
            return None;
        }
        let scale = mean / m;
        Some(HoldTime::Empirical(quantiles.iter().map(|q| q * scale).collect()))
    }
}

/// The seed of closed-loop worker `worker`'s hold draws in a run seeded
/// `seed`: the load test's workers and the simulator's draw the same holds.
pub fn worker_seed(seed: u64, worker: u32) -> u64 {
    seed ^ (u64::from(worker) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_print_back() {
        assert_eq!(Hours::parse("busiest:24"), Ok(Hours::Busiest(24)));
        assert_eq!(Hours::parse(" all "), Ok(Hours::All));
        for bad in ["busiest:0", "24", "busiest:x", "busiest:100001"] {
            assert!(Hours::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Hours::Busiest(8).to_string(), "busiest:8");
        for text in ["exponential", "fixed", "lognormal:1.5"] {
            assert_eq!(HoldShape::parse(text).unwrap().to_string(), text);
        }
        for bad in ["lognormal", "lognormal:0", "lognormal:5", "gamma", "lognormal:x"] {
            assert!(HoldShape::parse(bad).is_err(), "{bad}");
        }
    }
}
