//! Charts for the monthly review (plotters), as PNG files and SVG text, drawn
//! for a projector: large type from an embedded font (DejaVu Sans, no system
//! font libraries), the Okabe–Ito colour-blind-safe palette, units on every
//! axis, time in the configured zone.
//!
//! Each chart is data first ([`UtilizationChart`], [`HeatmapChart`], …), built
//! from the analysis by the review command and tested as data; drawing is the
//! thin last step. The utilization series is reduced per pixel column to
//! min/max/mean before drawing, so a spike is never dropped and drawing cost
//! does not grow with the number of samples.

use std::path::Path;
use std::sync::Once;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::config::names::file_stem;

/// Okabe–Ito: blue, orange, sky blue, bluish green, vermillion, reddish purple, yellow.
pub const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
/// Orange.
pub const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
/// Sky blue.
pub const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
/// Bluish green.
pub const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
/// Vermillion.
pub const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// Reddish purple.
pub const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
/// Dark grey for text and axes.
pub const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// Chart size in pixels (PNG and SVG viewBox).
pub const SIZE: (u32, u32) = (1600, 800);
/// Pixel columns of the plot area of a time-series chart (the series are reduced to this).
pub const PLOT_COLUMNS: usize = 1340;

const FONT: &str = "sans-serif";
static FONT_ONCE: Once = Once::new();

/// Registers the embedded font (once per process).
pub fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The font is embedded and valid; a failure would leave text undrawn, not crash.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Something that can draw itself on any plotters backend.
pub trait Chart {
    /// File stem (`utilization-backend`): the chart's kind and the service's
    /// [`file_stem`], so it stays inside the charts folder whatever the name.
    fn name(&self) -> String;
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Writes `chart` as `dir/NAME.png` and returns its SVG text (also written as
/// `dir/NAME.svg`). The PNG is drawn in memory and encoded here, so a failure
/// to write it is an I/O error naming the file.
pub fn render(chart: &impl Chart, dir: &Path) -> anyhow::Result<String> {
    register_font();
    let name = chart.name();
    let png_path = dir.join(format!("{name}.png"));
    let svg_path = dir.join(format!("{name}.svg"));
    let mut pixels = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        chart
            .draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| anyhow::anyhow!("drawing {}: {e}", png_path.display()))?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &pixels,
        SIZE.0,
        SIZE.1,
        image::ColorType::Rgb8,
    )
    .with_context(|| format!("encoding {}", png_path.display()))?;
    std::fs::write(&png_path, png).with_context(|| format!("writing {}", png_path.display()))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        chart
            .draw(&root)
            .and_then(|()| root.present().map_err(err))
            .map_err(|e| anyhow::anyhow!("drawing {}: {e}", svg_path.display()))?;
    }
    std::fs::write(&svg_path, &svg).with_context(|| format!("writing {}", svg_path.display()))?;
    Ok(svg)
}

fn title_font() -> TextStyle<'static> {
    (FONT, 40).into_font().color(&INK)
}

fn label_font() -> TextStyle<'static> {
    (FONT, 26).into_font().color(&INK)
}

fn small_font() -> TextStyle<'static> {
    (FONT, 22).into_font().color(&INK)
}

/// Draws the series legend in a framed, semi-transparent box.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(0xAA, 0xAA, 0xAA))
        .label_font(small_font())
        .draw()
        .map_err(err)
}

/// Utilization over the month for one service.
#[derive(Debug, Clone)]
pub struct UtilizationChart {
    /// Service name.
    pub service: String,
    /// `YYYY-MM` and zone, for the title.
    pub month: String,
    /// Days in the month (x axis length).
    pub days: f64,
    /// Per pixel column: (x in days, min, mean, max) utilization; `None` where uncovered.
    pub columns: Vec<Option<(f64, f64, f64, f64)>>,
    /// Alert episodes: (rule, start day, end day), critical drawn over warning.
    pub alerts: Vec<(String, f64, f64)>,
    /// Pool size steps: (day, pool_size).
    pub pool_sizes: Vec<(f64, u32)>,
    /// Day-of-month labels: (x in days, label).
    pub day_labels: Vec<(f64, String)>,
}

impl Chart for UtilizationChart {
    fn name(&self) -> String {
        format!("utilization-{}", file_stem(&self.service))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let top = self.columns.iter().flatten().map(|c| c.3).fold(1.0f64, f64::max) * 105.0;
        let max_pool = self.pool_sizes.iter().map(|p| p.1).max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{} — pool utilization, {}", self.service, self.month),
                title_font(),
            )
            .margin(24)
            .x_label_area_size(70)
            .y_label_area_size(110)
            .right_y_label_area_size(110)
            .build_cartesian_2d(0f64..self.days, 0f64..top)
            .map_err(err)?
            // The pool-size line sits in the lower third, clear of the data.
            .set_secondary_coord(0f64..self.days, 0f64..(f64::from(max_pool) * 3.0));
        let labels = self.day_labels.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(12)
            .x_label_formatter(&|x| {
                labels
                    .iter()
                    .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
                    .map(|l| l.1.clone())
                    .unwrap_or_default()
            })
            .y_desc("checked out / pool_size (%)")
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc("day of month (local time)")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("pool_size (connections)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err)?;
        // Alert episodes, shaded behind the data.
        for (rule, a, b) in &self.alerts {
            let colour = if rule == "critical" {
                VERMILLION.mix(0.25)
            } else {
                ORANGE.mix(0.18)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new([(*a, 0.0), (*b, top)], colour.filled())))
                .map_err(err)?;
        }
        // Min–max band: one thin bar per pixel column.
        let width = self.days / self.columns.len().max(1) as f64;
        chart
            .draw_series(self.columns.iter().flatten().map(|&(x, min, _, max)| {
                Rectangle::new(
                    [(x, min * 100.0), (x + width, (max * 100.0).max(min * 100.0 + 0.15))],
                    SKY.mix(0.55).filled(),
                )
            }))
            .map_err(err)?
            .label("min–max per pixel")
            .legend(|(x, y)| Rectangle::new([(x, y - 8), (x + 24, y + 8)], SKY.mix(0.55).filled()));
        // The mean line, broken where the data is.
        let mut segment: Vec<(f64, f64)> = Vec::new();
        let mut segments = Vec::new();
        for c in &self.columns {
            match c {
                Some((x, _, mean, _)) => segment.push((*x + width / 2.0, mean * 100.0)),
                None if !segment.is_empty() => segments.push(std::mem::take(&mut segment)),
                None => {}
            }
        }
        if !segment.is_empty() {
            segments.push(segment);
        }
        for (k, s) in segments.into_iter().enumerate() {
            let series = chart
                .draw_series(LineSeries::new(s, BLUE.stroke_width(2)))
                .map_err(err)?;
            if k == 0 {
                series
                    .label("mean")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLUE.stroke_width(3)));
            }
        }
        for (level, colour, name) in [
            (60.0, GREEN, "60% escalation"),
            (80.0, ORANGE, "80% warning"),
            (90.0, VERMILLION, "90% critical"),
        ] {
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, level), (self.days, level)],
                    colour.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3)));
        }
        // Pool size as a step line on the right axis.
        if !self.pool_sizes.is_empty() {
            let mut steps = Vec::new();
            for (i, &(x, size)) in self.pool_sizes.iter().enumerate() {
                if i > 0 {
                    steps.push((x, f64::from(self.pool_sizes[i - 1].1)));
                }
                steps.push((x, f64::from(size)));
            }
            steps.push((self.days, f64::from(self.pool_sizes.last().map_or(0, |p| p.1))));
            chart
                .draw_secondary_series(LineSeries::new(steps, PURPLE.stroke_width(3)))
                .map_err(err)?
                .label("pool_size (right axis)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PURPLE.stroke_width(3)));
        }
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(err)?
            .label("alert episode (warning / critical)")
            .legend(|(x, y)| Rectangle::new([(x, y - 8), (x + 24, y + 8)], ORANGE.mix(0.3).filled()));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}

/// A colour for `v` in 0..=1 on a light-to-dark blue ramp (readable in grey too).
fn ramp(v: f64) -> RGBColor {
    let stops = [
        (0xF7, 0xFB, 0xFF),
        (0xC6, 0xDB, 0xEF),
        (0x6B, 0xAE, 0xD6),
        (0x21, 0x71, 0xB5),
        (0x08, 0x30, 0x6B),
    ];
    let v = v.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (v.floor() as usize).min(stops.len() - 2);
    let f = v - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    RGBColor(
        mix(stops[i].0, stops[i + 1].0),
        mix(stops[i].1, stops[i + 1].1),
        mix(stops[i].2, stops[i + 1].2),
    )
}

/// Hour-of-day × weekday heat map of mean and p95 utilization.
#[derive(Debug, Clone)]
pub struct HeatmapChart {
    /// Service name.
    pub service: String,
    /// `YYYY-MM (zone)`.
    pub month: String,
    /// [weekday Monday-first][hour] mean utilization (`None`: no data).
    pub mean: Vec<Vec<Option<f64>>>,
    /// The same for p95.
    pub p95: Vec<Vec<Option<f64>>>,
}

impl Chart for HeatmapChart {
    fn name(&self) -> String {
        format!("heatmap-{}", file_stem(&self.service))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let root = root.margin(16, 8, 8, 8);
        let root = root
            .titled(
                &format!(
                    "{} — utilization by local hour and weekday, {}",
                    self.service, self.month
                ),
                title_font(),
            )
            .map_err(err)?;
        let panels = root.split_evenly((1, 2));
        // One colour scale for both panels, stretched over the values present.
        let values: Vec<f64> = self.mean.iter().chain(&self.p95).flatten().flatten().copied().collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        for (panel, (grid, what)) in panels.iter().zip([(&self.mean, "mean"), (&self.p95, "p95")]) {
            // Cells are centred on whole numbers, so the labels sit in the middle of each row.
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{what} (%)"), label_font())
                .margin(16)
                .x_label_area_size(60)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.5f64..23.5f64, -0.5f64..6.5f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(12)
                .y_labels(7)
                .x_label_formatter(&|h| {
                    if h.fract().abs() < 1e-9 {
                        format!("{:02}", *h as u32)
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|d| {
                    if d.fract().abs() < 1e-9 {
                        DAYS.get(6usize.saturating_sub(d.round() as usize))
                            .copied()
                            .unwrap_or("")
                            .to_string()
                    } else {
                        String::new()
                    }
                })
                .x_desc("hour of day (local)")
                .label_style(small_font())
                .axis_desc_style(small_font())
                .draw()
                .map_err(err)?;
            for (day, row) in grid.iter().enumerate() {
                for (hour, v) in row.iter().enumerate() {
                    let (x, y) = (hour as f64, (6 - day) as f64);
                    let shade = v.map(|v| (v - lo) / span);
                    let fill = match shade {
                        Some(t) => ramp(t),
                        None => RGBColor(0xDD, 0xDD, 0xDD),
                    };
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            fill.filled(),
                        )))
                        .map_err(err)?;
                    if let Some(v) = v {
                        let colour = if shade.unwrap_or(0.0) > 0.55 { WHITE } else { INK };
                        chart
                            .draw_series(std::iter::once(Text::new(
                                format!("{:.0}", v * 100.0),
                                (x - 0.35, y + 0.2),
                                (FONT, 16).into_font().color(&colour),
                            )))
                            .map_err(err)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A projected month of the trend chart: (month, mean (value, low, high),
/// p95 (value, low, high)).
pub type ProjectedMonth = (String, (f64, f64, f64), (f64, f64, f64));

/// Monthly mean and p95 against the escalation line, with the outlook's
/// projection (dashed) and its prediction band (shaded).
#[derive(Debug, Clone)]
pub struct TrendChart {
    /// Service name.
    pub service: String,
    /// (month, mean, p95), oldest first, months with data only.
    pub months: Vec<(String, f64, f64)>,
    /// The months after the last one: (month, mean (value, low, high), p95
    /// (value, low, high)); empty without an outlook.
    pub projection: Vec<ProjectedMonth>,
    /// `policy.escalate_mean_utilization`.
    pub escalate: f64,
    /// The warning threshold p95 is compared with, when there is one.
    pub warning: Option<f64>,
    /// Highest value the axis shows (the projection and its band are cut there).
    pub ceiling: f64,
}

impl Chart for TrendChart {
    fn name(&self) -> String {
        format!("trend-{}", file_stem(&self.service))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let n = self.months.len().max(1);
        let total = n + self.projection.len();
        let projected_top = self.projection.iter().map(|p| p.1.0.max(p.2.0)).fold(0.0f64, f64::max);
        let top = (self
            .months
            .iter()
            .map(|m| m.2)
            .fold(0.7f64, f64::max)
            .max(projected_top)
            .max(self.warning.unwrap_or(0.0))
            * 110.0)
            .min(self.ceiling * 100.0);
        let clip = |v: f64| (v * 100.0).clamp(0.0, top);
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{} — monthly utilization trend", self.service), title_font())
            .margin(24)
            .x_label_area_size(70)
            .y_label_area_size(110)
            .build_cartesian_2d(-0.5f64..(total as f64 - 0.5), 0f64..top)
            .map_err(err)?;
        let names: Vec<String> = self
            .months
            .iter()
            .map(|m| m.0.clone())
            .chain(self.projection.iter().map(|p| p.0.clone()))
            .collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(total.max(2))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("utilization (%)")
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc(if self.projection.is_empty() {
                "month"
            } else {
                "month (dashed: least-squares projection, shaded: 80% prediction interval)"
            })
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err)?;
        // The projection's bands first, so lines and points are drawn over them.
        let last = n as f64 - 1.0;
        let series = |k: usize, m: &(String, f64, f64)| if k == 0 { m.1 } else { m.2 };
        let band = |k: usize, p: &ProjectedMonth| if k == 0 { p.1 } else { p.2 };
        for (k, colour) in [BLUE, VERMILLION].into_iter().enumerate() {
            let Some(now) = self.months.last().map(|m| series(k, m)) else {
                continue;
            };
            if self.projection.is_empty() {
                continue;
            }
            let mut outline: Vec<(f64, f64)> = vec![(last, clip(now))];
            outline.extend(
                self.projection
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (last + 1.0 + i as f64, clip(band(k, p).2))),
            );
            outline.extend(
                self.projection
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, p)| (last + 1.0 + i as f64, clip(band(k, p).1))),
            );
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline.clone(),
                    colour.mix(0.10).filled(),
                )))
                .map_err(err)?;
            // Thin edges tell the two bands apart where they overlap.
            let half = outline.len() / 2;
            for edge in [&outline[..=half], &outline[half..]] {
                chart
                    .draw_series(LineSeries::new(edge.to_vec(), colour.mix(0.45).stroke_width(1)))
                    .map_err(err)?;
            }
        }
        chart
            .draw_series(LineSeries::new(
                vec![
                    (-0.5, self.escalate * 100.0),
                    (total as f64 - 0.5, self.escalate * 100.0),
                ],
                GREEN.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{:.0}% escalation threshold", self.escalate * 100.0))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], GREEN.stroke_width(3)));
        if let Some(warning) = self.warning {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.5, warning * 100.0), (total as f64 - 0.5, warning * 100.0)],
                    4,
                    6,
                    PURPLE.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("{:.0}% warning threshold (p95)", warning * 100.0))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PURPLE.stroke_width(3)));
        }
        for (k, (colour, name)) in [(BLUE, "mean"), (VERMILLION, "p95")].into_iter().enumerate() {
            let points: Vec<(f64, f64)> = self
                .months
                .iter()
                .enumerate()
                .map(|(i, m)| (i as f64, series(k, m) * 100.0))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3)));
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 7, colour.filled())))
                .map_err(err)?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Text::new(format!("{:.1}%", p.1), (p.0 + 0.05, p.1 + top * 0.03), small_font())),
                )
                .map_err(err)?;
            if let Some(&start) = points.last()
                && !self.projection.is_empty()
            {
                let line: Vec<(f64, f64)> = std::iter::once(start)
                    .chain(
                        self.projection
                            .iter()
                            .enumerate()
                            .map(|(i, p)| (last + 1.0 + i as f64, band(k, p).0 * 100.0)),
                    )
                    .collect();
                let ahead = clip_to(&line, top);
                chart
                    .draw_series(DashedLineSeries::new(ahead.clone(), 14, 10, colour.stroke_width(3)))
                    .map_err(err)?;
                chart
                    .draw_series(
                        ahead
                            .iter()
                            .skip(1)
                            .filter(|p| p.0.fract() == 0.0)
                            .map(|p| Circle::new(*p, 5, ShapeStyle::from(&colour).stroke_width(2))),
                    )
                    .map_err(err)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

/// The part of a polyline inside `0..=top`: up to the first point outside,
/// ending where its segment leaves the band (a projection runs off the chart
/// rather than flattening along its edge).
fn clip_to(line: &[(f64, f64)], top: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &(x, y) in line {
        if (0.0..=top).contains(&y) {
            out.push((x, y));
            continue;
        }
        if let Some(&(x0, y0)) = out.last() {
            let edge = if y > top { top } else { 0.0 };
            out.push((x0 + (x - x0) * (edge - y0) / (y - y0), edge));
        }
        break;
    }
    out
}

/// Slow queries: top fingerprints by total time, and the duration histogram.
#[derive(Debug, Clone)]
pub struct SlowQueryChart {
    /// (short label, total seconds, over-threshold count), largest first.
    pub top: Vec<(String, f64, u64)>,
    /// Duration histogram: (lower ms, upper ms, statements), log-spaced.
    pub histogram: Vec<(f64, f64, u64)>,
    /// The review threshold, ms.
    pub threshold_ms: f64,
}

impl Chart for SlowQueryChart {
    fn name(&self) -> String {
        "slow-queries".to_string()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let root = root.margin(16, 8, 8, 8);
        let root = root
            .titled("Slow queries — where the connection time goes", title_font())
            .map_err(err)?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        let n = self.top.len().max(1);
        let top_total = self.top.iter().map(|t| t.1).fold(1e-9f64, f64::max) * 1.15;
        let mut bars = ChartBuilder::on(&left)
            .caption("top fingerprints by total time", label_font())
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..top_total, 0f64..n as f64)
            .map_err(err)?;
        bars.configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("total time (s); red: has statements over the threshold")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(small_font())
            .axis_desc_style(small_font())
            .draw()
            .map_err(err)?;
        for (i, (label, seconds, over)) in self.top.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = if *over > 0 { VERMILLION } else { BLUE };
            bars.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (*seconds, y + 0.85)],
                colour.mix(0.8).filled(),
            )))
            .map_err(err)?;
            bars.draw_series(std::iter::once(Text::new(
                format!("#{} {label}", i + 1),
                (top_total * 0.01, y + 0.62),
                (FONT, 16).into_font().color(&INK),
            )))
            .map_err(err)?;
        }
        let lo = self.histogram.first().map_or(0.01, |b| b.0).max(0.001);
        // Room on the right of the threshold, so the slow tail is visible.
        let hi = (self
            .histogram
            .last()
            .map_or(10_000.0, |b| b.1)
            .max(self.threshold_ms * 2.0)
            * 1.5)
            .max(lo * 10.0);
        let peak = self.histogram.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut hist = ChartBuilder::on(&right)
            .caption("statement durations (log scale)", label_font())
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..peak)
            .map_err(err)?;
        hist.configure_mesh()
            .disable_x_mesh()
            .x_desc("duration (ms); threshold in orange")
            .y_desc("statements")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v| {
                if *v >= 1000.0 {
                    format!("{:.0}s", v / 1000.0)
                } else {
                    format!("{v}")
                }
            })
            .label_style(small_font())
            .axis_desc_style(small_font())
            .draw()
            .map_err(err)?;
        hist.draw_series(self.histogram.iter().map(|&(a, b, count)| {
            let colour = if a >= self.threshold_ms { VERMILLION } else { BLUE };
            Rectangle::new([(a, 0.0), (b, count as f64)], colour.mix(0.75).filled())
        }))
        .map_err(err)?;
        hist.draw_series(LineSeries::new(
            vec![(self.threshold_ms, 0.0), (self.threshold_ms, peak)],
            ORANGE.stroke_width(3),
        ))
        .map_err(err)?;
        Ok(())
    }
}

/// The simulated queueing check: P(timeout) and wait p99 against pool size.
#[derive(Debug, Clone)]
pub struct QueueingChart {
    /// Service name.
    pub service: String,
    /// (pool_size, P(timeout), wait p99 ms) of each simulated size.
    pub points: Vec<(f64, f64, f64)>,
    /// Current pool_size.
    pub current: f64,
    /// Recommended pool_size.
    pub recommended: f64,
    /// Target probability.
    pub target: f64,
    /// The lowest P(timeout) the simulation can tell from 0 (1 / checkouts).
    pub floor: f64,
    /// What was simulated, for the caption.
    pub note: String,
    /// The calibration line printed under the chart.
    pub calibration: String,
}

impl Chart for QueueingChart {
    fn name(&self) -> String {
        format!("queueing-{}", file_stem(&self.service))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let root = root.margin(16, 8, 8, 8);
        let root = root
            .titled(
                &format!("{} — simulated QueuePool by pool size ({})", self.service, self.note),
                title_font(),
            )
            .map_err(err)?;
        let height = i32::try_from(root.dim_in_pixel().1).unwrap_or(700);
        let (panels, footer) = root.split_vertically(height - 40);
        footer
            .draw(&Text::new(self.calibration.clone(), (60, 8), small_font()))
            .map_err(err)?;
        let (top, bottom) = panels.split_vertically((height - 40) / 2);
        let x_min = self.points.first().map_or(1.0, |p| p.0) - 1.0;
        let x_max = self.points.last().map_or(10.0, |p| p.0) + 1.0;
        let floor = self.floor.clamp(1e-12, 1e-3) / 2.0;
        let shown = |p: f64| if p > 0.0 { p } else { floor };
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(130)
            .build_cartesian_2d(x_min..x_max, (floor..1.0).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .y_desc("P(timeout)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                vec![(x_min, self.target), (x_max, self.target)],
                GREEN.stroke_width(2),
            ))
            .map_err(err)?
            .label("queue_target")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], GREEN.stroke_width(3)));
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.0, shown(p.1))),
                BLUE.stroke_width(3),
            ))
            .map_err(err)?
            .label("simulated (bottom row: no timeout seen)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLUE.stroke_width(3)));
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|p| Circle::new((p.0, shown(p.1)), 5, BLUE.filled())),
            )
            .map_err(err)?;
        for (size, colour, name) in [
            (self.current, ORANGE, "current"),
            (self.recommended, VERMILLION, "recommended"),
        ] {
            if let Some(p) = self.points.iter().find(|p| p.0 == size) {
                chart
                    .draw_series(std::iter::once(Circle::new((p.0, shown(p.1)), 12, colour.filled())))
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| Circle::new((x + 12, y), 8, colour.filled()));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        let y_max = self.points.iter().map(|p| p.2).fold(1.0, f64::max) * 1.15;
        let mut waits = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(56)
            .y_label_area_size(130)
            .build_cartesian_2d(x_min..x_max, 0f64..y_max)
            .map_err(err)?;
        waits
            .configure_mesh()
            .x_desc("pool_size (max_overflow as the policy sets it)")
            .y_desc("wait p99 (ms)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err)?;
        waits
            .draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.0, p.2)),
                SKY.stroke_width(3),
            ))
            .map_err(err)?;
        waits
            .draw_series(self.points.iter().map(|p| Circle::new((p.0, p.2), 5, SKY.filled())))
            .map_err(err)?;
        for (size, colour) in [(self.current, ORANGE), (self.recommended, VERMILLION)] {
            if let Some(p) = self.points.iter().find(|p| p.0 == size) {
                waits
                    .draw_series(std::iter::once(Circle::new((p.0, p.2), 12, colour.filled())))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}
