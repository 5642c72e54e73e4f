//! SVG charts of benchmark results (plotters, SVG backend only: no system fonts needed).

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};

/// Colours of the series, in order: distinguishable and readable on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io("plot", path, std::io::Error::other(e.to_string()))
}

/// The y range of `values`, padded; on a log axis from a power of ten below the smallest.
fn y_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (if log { 1.0 } else { 0.0 }, 1.0);
    }
    if log {
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()).max(lo * 10.0),
        )
    } else {
        (0.0, if hi > 0.0 { hi * 1.1 } else { 1.0 })
    }
}

/// Lines of y against x, one per named series.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> Result<()> {
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let (x_lo, x_hi) = if x_lo.is_finite() && x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (0.0, 1.0)
    };
    let (y_lo, y_hi) = y_range(
        series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)),
        log_y,
    );
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart.map_err(|e| plot_error(path, e))?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&|x: &f64| short(*x))
                .y_label_formatter(&|y: &f64| short(*y))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(|e| plot_error(path, e))?;
            for (i, (name, points)) in series.iter().enumerate() {
                let c = colour(i);
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .copied()
                    .filter(|&(_, y)| y.is_finite() && (!log_y || y > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                    .map_err(|e| plot_error(path, e))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
                chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| plot_error(path, e))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| plot_error(path, e))?;
        }};
    }
    // Values spread over orders of magnitude (page sizes, record counts) go on a log axis.
    let log_x = x_lo > 0.0 && x_hi / x_lo >= 16.0;
    match (log_x, log_y) {
        (true, true) => {
            draw!(builder.build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale()))
        }
        (true, false) => draw!(builder.build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)),
        (false, true) => draw!(builder.build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())),
        (false, false) => draw!(builder.build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)),
    }
    root.present().map_err(|e| plot_error(path, e))
}

/// Axis numbers as people read them: 2.5M, 300k, 1.2.
fn short(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = format!("{scaled:.3}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("{digits}{suffix}")
}

/// Grouped horizontal bars: one group per category (a row, labelled on the left), one bar
/// per series (`None`: no bar).
pub fn bar_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    categories: &[String],
    series: &[(String, Vec<Option<f64>>)],
    log_x: bool,
) -> Result<()> {
    let (x_lo, x_hi) = y_range(
        series.iter().flat_map(|(_, v)| v.iter().flatten().copied()),
        log_x,
    );
    let height = (120 + categories.len() * (12 + 14 * series.len().max(1))) as u32;
    let root = SVGBackend::new(path, (900, height.max(320))).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let n = categories.len().max(1) as f64;
    let group = series.len().max(1) as f64;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(150);
    // Rows from the top: category i spans y in [n - i - 1, n - i].
    let label = |y: &f64| {
        let row = n - y.floor() - 1.0;
        if (y - y.floor() - 0.5).abs() < 1e-9 && row >= 0.0 {
            categories.get(row as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let number = |x: &f64| short(*x);
    macro_rules! draw {
        ($chart:expr, $base:expr) => {{
            let mut chart = $chart.map_err(|e| plot_error(path, e))?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(categories.len() * 2 + 1)
                .y_label_formatter(&label)
                .x_label_formatter(&number)
                .x_desc(x_desc)
                .draw()
                .map_err(|e| plot_error(path, e))?;
            for (s, (name, values)) in series.iter().enumerate() {
                let c = colour(s);
                let bars = values.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v)?;
                    if !v.is_finite() || (log_x && v <= 0.0) {
                        return None;
                    }
                    let top = n - i as f64 - 0.1 - 0.8 * s as f64 / group;
                    let bottom = top - 0.8 / group;
                    Some(Rectangle::new([($base, bottom), (v, top)], c.filled()))
                });
                chart
                    .draw_series(bars)
                    .map_err(|e| plot_error(path, e))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled())
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| plot_error(path, e))?;
        }};
    }
    if log_x {
        draw!(
            builder.build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..n),
            x_lo
        );
    } else {
        draw!(builder.build_cartesian_2d(x_lo..x_hi, 0.0..n), 0.0);
    }
    root.present().map_err(|e| plot_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short(10_000_000.0), "10M");
        assert_eq!(short(2_500_000.0), "2.5M");
        assert_eq!(short(300_000.0), "300k");
        assert_eq!(short(1.5), "1.5");
        assert_eq!(short(0.0), "0");
    }

    #[test]
    fn charts_are_svg_files_with_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let line = dir.path().join("l.svg");
        let series = vec![(
            "readmissing".to_string(),
            vec![(0.0, 1e5), (8.0, 1e6), (16.0, 1.2e6)],
        )];
        line_chart(&line, "bloom bits", "bits per key", "ops/s", &series, true).unwrap();
        let svg = std::fs::read_to_string(&line).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("readmissing") && svg.contains("bloom bits")
        );

        let bars = dir.path().join("b.svg");
        let cats = vec!["fillrandom".to_string(), "readrandom".to_string()];
        let series = vec![
            ("mem".to_string(), vec![Some(1e6), Some(2e6)]),
            ("lsm".to_string(), vec![Some(6e5), None]),
        ];
        bar_chart(&bars, "throughput", "ops/s", &cats, &series, true).unwrap();
        let svg = std::fs::read_to_string(&bars).unwrap();
        assert!(svg.contains("fillrandom") && svg.contains("lsm") && svg.contains("<rect"));
    }
}
