//! A straight-line forecast of a monthly series (issue 16, item 7): ordinary
//! least squares of the value on the month index, its residual standard error,
//! the prediction interval of a future month and the first future month a
//! projection crosses a threshold. Pure: no file or clock is read here. The
//! outlook built on it is `policy::outlook`; the method in plain words is in
//! docs/review.md ("Outlook").
//!
//! - **Month index.** `x` counts calendar months relative to the reviewed
//!   month (0; earlier months are −1, −2, …; a month left out keeps its index,
//!   so gaps do not bend time). Future month `k` is `x = k`.
//! - **Fit.** `ŷ(x) = a + b·x` minimising Σ(y − ŷ)² (ordinary least squares,
//!   nothing weighted, no seasonality): `b = Sxy / Sxx`, `a = ȳ − b·x̄`.
//! - **Residual standard error.** `s = √(SSE / (n − 2))`; 0 for a perfectly
//!   straight series.
//! - **Prediction interval** of one future month at `x₀`, two-sided at
//!   [`LEVEL`] (80 %): `ŷ(x₀) ± t · s · √(1 + 1/n + (x₀ − x̄)² / Sxx)`, with `t`
//!   the Student t quantile at `1 − (1 − LEVEL)/2` with `n − 2` degrees of
//!   freedom ([`t_quantile`], a table). It assumes independent, normal,
//!   equal-variance residuals around a straight line; with three months (one
//!   degree of freedom, t = 3.08) the band is honestly wide.
//! - **Crossing.** The first future month `k` in `1..=horizon` whose projected
//!   value is strictly above the threshold; `None` when the slope is ≤ 0 or no
//!   month within the horizon gets there.

/// Fewest points a trend is fitted on (two give a line but no error estimate).
pub const MIN_POINTS: usize = 3;

/// Two-sided level of the prediction interval.
pub const LEVEL: f64 = 0.80;

/// Months projected ahead: half a year, what a monthly meeting plans for; with
/// at most a handful of points, extrapolating further is guesswork.
pub const HORIZON: u32 = 6;

/// Student t quantiles at 0.90 (an 80 % two-sided interval) for 1…30 degrees of
/// freedom, to four decimals (computed by numerical integration of the t
/// density and bisection; they agree with printed tables).
const T90: [f64; 30] = [
    3.0777, 1.8856, 1.6377, 1.5332, 1.4759, 1.4398, 1.4149, 1.3968, 1.3830, 1.3722, 1.3634, 1.3562, 1.3502, 1.3450,
    1.3406, 1.3368, 1.3334, 1.3304, 1.3277, 1.3253, 1.3232, 1.3212, 1.3195, 1.3178, 1.3163, 1.3150, 1.3137, 1.3125,
    1.3114, 1.3104,
];

/// The t quantile of the [`LEVEL`] interval for `df` degrees of freedom
/// (`df ≥ 1`; beyond 30 the value for 30, slightly wider than exact).
pub fn t_quantile(df: usize) -> f64 {
    T90[df.clamp(1, T90.len()) - 1]
}

/// A fitted straight line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Points fitted.
    pub n: usize,
    /// Change per month.
    pub slope: f64,
    /// Value at `x = 0` (the reviewed month) on the line.
    pub intercept: f64,
    /// Residual standard error `√(SSE / (n − 2))`.
    pub residual_se: f64,
    /// Mean of the month indices.
    pub x_mean: f64,
    /// Σ(x − x̄)².
    pub sxx: f64,
}

/// One projected month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// Months after the reviewed one (1 = next month).
    pub ahead: u32,
    /// The line's value.
    pub value: f64,
    /// Lower end of the prediction interval.
    pub low: f64,
    /// Upper end of the prediction interval.
    pub high: f64,
}

/// Fits `y = a + b·x` to `(x, y)` points by ordinary least squares. `None`
/// with fewer than [`MIN_POINTS`] points, when all `x` are equal, or when a
/// value is not finite.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < MIN_POINTS || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let x_mean = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let y_mean = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum();
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let sse: f64 = points.iter().map(|p| (p.1 - (intercept + slope * p.0)).powi(2)).sum();
    Some(Fit {
        n,
        slope,
        intercept,
        residual_se: (sse / (nf - 2.0)).sqrt(),
        x_mean,
        sxx,
    })
}

impl Fit {
    /// The line at month index `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// Half the width of the prediction interval of one new month at `x`.
    pub fn half_width(&self, x: f64) -> f64 {
        let n = self.n as f64;
        t_quantile(self.n - 2) * self.residual_se * (1.0 + 1.0 / n + (x - self.x_mean).powi(2) / self.sxx).sqrt()
    }

    /// Projections for months `1..=horizon` after the reviewed one.
    pub fn project(&self, horizon: u32) -> Vec<Projection> {
        (1..=horizon)
            .map(|ahead| {
                let x = f64::from(ahead);
                let (value, half) = (self.at(x), self.half_width(x));
                Projection {
                    ahead,
                    value,
                    low: value - half,
                    high: value + half,
                }
            })
            .collect()
    }

    /// The first month `1..=horizon` after the reviewed one whose projected
    /// value is strictly above `threshold`; `None` when the slope is ≤ 0 or
    /// no month within the horizon gets there.
    pub fn crossing(&self, threshold: f64, horizon: u32) -> Option<u32> {
        if self.slope <= 0.0 {
            return None;
        }
        (1..=horizon).find(|&k| self.at(f64::from(k)) > threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_straight_series_is_fitted_exactly() {
        // y = 0.3, 0.4, 0.5 at x = −2, −1, 0: slope 0.1, value 0.5 at x = 0, no error.
        let f = fit(&[(-2.0, 0.3), (-1.0, 0.4), (0.0, 0.5)]).unwrap();
        assert!(close(f.slope, 0.1) && close(f.intercept, 0.5), "{f:?}");
        assert!(close(f.residual_se, 0.0));
        let p = f.project(HORIZON);
        assert_eq!(p.len(), 6);
        assert!(close(p[0].value, 0.6) && close(p[0].low, 0.6) && close(p[0].high, 0.6));
        // 0.6 at month 1, 0.7 at month 2.
        assert_eq!(f.crossing(0.65, HORIZON), Some(2));
        assert_eq!(f.crossing(1.2, HORIZON), None, "1.1 at month 6 is the furthest");
        assert_eq!(f.crossing(0.55, HORIZON), Some(1));
    }

    #[test]
    fn a_noisy_series_has_the_hand_computed_fit_and_interval() {
        // x = −3, −2, −1, 0; y = 0.40, 0.42, 0.50, 0.52.
        // x̄ = −1.5, ȳ = 0.46; Sxx = 2.25 + 0.25 + 0.25 + 2.25 = 5.
        // Sxy = (−1.5)(−0.06) + (−0.5)(−0.04) + (0.5)(0.04) + (1.5)(0.06)
        //     = 0.09 + 0.02 + 0.02 + 0.09 = 0.22 → b = 0.044, a = 0.46 + 0.044 × 1.5 = 0.526.
        // Fitted: 0.394, 0.438, 0.482, 0.526; residuals 0.006, −0.018, 0.018, −0.006;
        // SSE = 36e-6 + 324e-6 + 324e-6 + 36e-6 = 720e-6; s = √(720e-6 / 2) = √360e-6 = 0.018974.
        // Month 1: ŷ = 0.570; t(2 df) = 1.8856;
        // √(1 + 1/4 + (1 + 1.5)² / 5) = √(1 + 0.25 + 1.25) = √2.5 = 1.581139;
        // half = 1.8856 × 0.018974 × 1.581139 = 0.056569 → [0.513431, 0.626569].
        let f = fit(&[(-3.0, 0.40), (-2.0, 0.42), (-1.0, 0.50), (0.0, 0.52)]).unwrap();
        assert!(close(f.slope, 0.044) && close(f.intercept, 0.526), "{f:?}");
        assert!((f.residual_se - 0.018974).abs() < 1e-6, "{}", f.residual_se);
        let p = f.project(HORIZON)[0];
        assert!(close(p.value, 0.570));
        assert!((p.high - p.value - 0.056569).abs() < 1e-6, "{p:?}");
        assert!((p.value - p.low - 0.056569).abs() < 1e-6, "{p:?}");
        // 0.526 + 0.044 k > 0.6 first at k = 2 (0.614).
        assert_eq!(f.crossing(0.6, HORIZON), Some(2));
        // The interval widens with distance from the data.
        let all = f.project(HORIZON);
        assert!(all.windows(2).all(|w| w[1].high - w[1].value > w[0].high - w[0].value));
    }

    #[test]
    fn too_few_or_degenerate_points_give_no_fit() {
        assert_eq!(fit(&[(-1.0, 0.3), (0.0, 0.4)]), None);
        assert_eq!(fit(&[(0.0, 0.3), (0.0, 0.4), (0.0, 0.5)]), None);
        assert_eq!(fit(&[(-2.0, 0.3), (-1.0, f64::NAN), (0.0, 0.5)]), None);
    }

    #[test]
    fn a_falling_or_flat_series_never_crosses() {
        let flat = fit(&[(-2.0, 0.5), (-1.0, 0.5), (0.0, 0.5)]).unwrap();
        assert_eq!(flat.crossing(0.4, HORIZON), None);
        let falling = fit(&[(-2.0, 0.7), (-1.0, 0.6), (0.0, 0.5)]).unwrap();
        assert_eq!(falling.crossing(0.1, HORIZON), None);
    }

    #[test]
    fn the_t_table_is_the_80_percent_quantile() {
        assert_eq!(t_quantile(1), 3.0777);
        assert_eq!(t_quantile(4), 1.5332);
        assert_eq!(t_quantile(0), 3.0777);
        assert_eq!(t_quantile(100), 1.3104);
        assert!(T90.windows(2).all(|w| w[1] < w[0]));
    }

    proptest! {
        /// A perfectly straight series (with gaps) has a zero-width interval and
        /// crosses a threshold exactly where integer arithmetic says it does.
        #[test]
        fn a_linear_series_has_no_band_and_exact_crossings(
            start in 0u32..100,
            step in 1u32..20,
            n in 3usize..12,
            skip in 0usize..12,
            threshold in 0u32..400,
        ) {
            // Values in hundredths: y(x) = (start + step·(x + n − 1)) / 100 for x = −(n−1)…0.
            let points: Vec<(f64, f64)> = (0..n)
                .filter(|i| *i != skip || n == 3)
                .map(|i| {
                    let x = i as f64 - (n as f64 - 1.0);
                    (x, f64::from(start + step * i as u32) / 100.0)
                })
                .collect();
            let f = fit(&points).unwrap();
            prop_assert!((f.slope - f64::from(step) / 100.0).abs() < 1e-9);
            prop_assert!(f.residual_se < 1e-9);
            for p in f.project(HORIZON) {
                prop_assert!(p.high - p.low < 1e-7);
            }
            // Value at month k in hundredths: start + step·(n − 1 + k); above the
            // threshold (hundredths, half-way values avoided by the + 0.5) first at
            // the smallest k with start + step·(n − 1 + k) > threshold + 0.5.
            let t = f64::from(threshold) + 0.5;
            let expected = (1..=HORIZON).find(|&k| f64::from(start + step * (n as u32 - 1 + k)) > t);
            prop_assert_eq!(f.crossing(t / 100.0, HORIZON), expected);
        }
    }
}
