//! The lab's SVG charts (plotters), shared by every report: lines and shaded bands over time or
//! against a parameter, a legend in a strip beside the plot (it never covers data), axes
//! labelled in their unit (money as `$1.2M`, percent, counts) and time in minutes, hours or days
//! chosen from the run's length.
//!
//! Conventions every chart follows: the run with liquidation feedback is solid, the run without
//! it dashed and in another colour ([`WITH_FEEDBACK`], [`WITHOUT_FEEDBACK`], [`feedback_pair`]);
//! a secondary measure of the same thing (a stable price, a borrow rate) is dotted. The legend
//! swatch is drawn with the same stroke as the line it names.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

pub use plotters::style::RGBColor;

/// How a line is stroked. Dashed means "without feedback" throughout the lab's charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    Dashed,
    Dotted,
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub stroke: Stroke,
}

/// A shaded band between two lines sharing their x values (e.g. the 5th to 95th percentile).
#[derive(Debug, Clone)]
pub struct Band {
    pub name: String,
    pub lower: Vec<(f64, f64)>,
    pub upper: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// How an axis labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Dollars, compact: `$0`, `$350k`, `$1.2M`.
    Money,
    /// Values already in percent: `70%`.
    Percent,
    /// Plain numbers (counts, bps, parameter values).
    Number,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
}

impl Axis {
    pub fn money(label: &str) -> Self {
        Self { label: label.into(), scale: Scale::Money }
    }

    pub fn percent(label: &str) -> Self {
        Self { label: label.into(), scale: Scale::Percent }
    }

    pub fn number(label: &str) -> Self {
        Self { label: label.into(), scale: Scale::Number }
    }
}

/// A chart: lines over optional shaded bands.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
}

impl Chart {
    pub fn new(title: &str, x: Axis, y: Axis, series: Vec<Series>) -> Self {
        Self { title: title.into(), x, y, series, bands: Vec::new() }
    }
}

/// The unit a run's time axis is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    fn seconds(self) -> f64 {
        match self {
            TimeUnit::Minutes => 60.0,
            TimeUnit::Hours => 3_600.0,
            TimeUnit::Days => 86_400.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
        }
    }
}

/// The time axis of a run of `steps` steps of `step_seconds`: minutes up to three hours, hours
/// up to four days, days beyond (so the axis reads in a handful of round numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeAxis {
    pub unit: TimeUnit,
    step_seconds: f64,
}

impl TimeAxis {
    pub fn for_run(steps: usize, step_seconds: i64) -> Self {
        let length = steps as f64 * step_seconds as f64;
        let unit = if length <= 3.0 * 3_600.0 {
            TimeUnit::Minutes
        } else if length <= 4.0 * 86_400.0 {
            TimeUnit::Hours
        } else {
            TimeUnit::Days
        };
        Self { unit, step_seconds: step_seconds as f64 }
    }

    /// Where step `step` ends, in the axis' unit.
    pub fn at(&self, step: usize) -> f64 {
        step as f64 * self.step_seconds / self.unit.seconds()
    }

    pub fn axis(&self) -> Axis {
        Axis::number(&format!("time ({})", self.unit.name()))
    }
}

/// Ten distinct colours (matplotlib's tab10), for lines that are not a with/without pair.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The run with liquidation feedback (solid) and the run without it (dashed).
pub const WITH_FEEDBACK: RGBColor = RGBColor(214, 39, 40);
pub const WITHOUT_FEEDBACK: RGBColor = RGBColor(31, 119, 180);

/// Colours for the `index`-th with/without pair of a chart (the first is red/blue), and a third
/// for a related measure of the same thing (e.g. that asset's stable price).
pub fn feedback_pair(index: usize) -> (RGBColor, RGBColor, RGBColor) {
    const PAIRS: [(RGBColor, RGBColor, RGBColor); 4] = [
        (WITH_FEEDBACK, WITHOUT_FEEDBACK, RGBColor(127, 127, 127)),
        (RGBColor(255, 127, 14), RGBColor(23, 190, 207), RGBColor(188, 189, 34)),
        (RGBColor(148, 103, 189), RGBColor(44, 160, 44), RGBColor(140, 86, 75)),
        (RGBColor(140, 86, 75), RGBColor(227, 119, 194), RGBColor(127, 127, 127)),
    ];
    PAIRS[index % PAIRS.len()]
}

/// Dollars in a few characters: `$0`, `$950`, `$350k`, `$1.2M`, `$3.45B`, `-$50k`; three
/// significant digits at most.
pub fn money_label(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude < 0.5 {
        return "$0".into();
    }
    let resolution = 10f64.powf(magnitude.log10().floor() - 2.0).max(1.0);
    money_tick(value, resolution)
}

/// A money label precise to `resolution` dollars (the axis' tick spacing, a power of ten), so
/// neighbouring ticks never print the same; trailing zeros are dropped.
fn money_tick(value: f64, resolution: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")];
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    for (i, &(unit, suffix)) in UNITS.iter().enumerate() {
        if magnitude < unit && unit > 1.0 {
            continue;
        }
        let decimals = decimals_for(resolution / unit).min(if unit > 1.0 { 3 } else { 2 });
        let text = trim_zeros(format!("{:.*}", decimals, magnitude / unit));
        // Rounding can carry into the next unit: $999.9k is $1M.
        if i > 0 && text.parse::<f64>().is_ok_and(|v| v >= 1_000.0) {
            return money_tick(value.signum() * UNITS[i - 1].0, resolution);
        }
        if text == "0" {
            return "$0".into();
        }
        return format!("{sign}${text}{suffix}");
    }
    unreachable!("the last unit takes every magnitude")
}

/// A plain number precise to `resolution`, trailing zeros dropped.
pub fn number_label(value: f64, resolution: f64) -> String {
    let text = trim_zeros(format!("{:.*}", decimals_for(resolution).min(6), value));
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// Decimals needed to show steps of `resolution`.
fn decimals_for(resolution: f64) -> usize {
    if resolution >= 1.0 || resolution <= 0.0 {
        0
    } else {
        (-resolution.log10()).ceil() as usize
    }
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The power of ten a range's ticks are at least as coarse as: plotters puts at most `ticks`
/// key points on it, one, two or five times a power of ten apart.
fn tick_resolution(low: f64, high: f64, ticks: usize) -> f64 {
    let spacing = (high - low).abs() / ticks.max(1) as f64;
    if spacing > 0.0 {
        10f64.powf(spacing.log10().floor())
    } else {
        1.0
    }
}

fn tick_label(scale: Scale, value: f64, resolution: f64) -> String {
    match scale {
        Scale::Money => money_tick(value, resolution),
        Scale::Percent => format!("{}%", number_label(value, resolution)),
        Scale::Number => number_label(value, resolution),
    }
}

/// The data's extent, padded vertically; a y axis whose data is all >= 0 does not go below 0,
/// and a flat line gets a visible range around it.
fn extent(chart: &Chart) -> (f64, f64, f64, f64) {
    let points = chart
        .series
        .iter()
        .flat_map(|s| &s.points)
        .chain(chart.bands.iter().flat_map(|b| b.lower.iter().chain(&b.upper)));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    let span = y1 - y0;
    let pad = if span > 1e-12 { span * 0.08 } else { (y0.abs() * 0.1).max(1.0) };
    let low = if y0 >= 0.0 { (y0 - pad).max(0.0) } else { y0 - pad };
    (x0, x1, low, y1 + pad)
}

const WIDTH: u32 = 1_000;
const HEIGHT: u32 = 500;
const DASH: (u32, u32) = (7, 5);
const DOT: (u32, u32) = (2, 4);
const LEGEND_FONT: u32 = 13;
/// Characters a legend line holds before it wraps, and the strip's width for them.
const LEGEND_CHARS: usize = 30;

/// The legend strip's width: wide enough for the longest name (wrapped past
/// [`LEGEND_CHARS`]), at roughly 7 pixels a character.
fn legend_width(names: &[&str]) -> u32 {
    let longest = names.iter().map(|n| n.chars().count().min(LEGEND_CHARS)).max().unwrap_or(0);
    (56 + 7 * longest as u32).clamp(120, 290)
}

/// `name` split into lines of at most `width` characters at spaces (a longer word stays whole).
pub fn wrap(name: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in name.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

fn stroke_style(color: RGBColor) -> ShapeStyle {
    color.stroke_width(2)
}

/// Draws `points` (backend coordinates or chart coordinates) with a series' stroke.
fn draw_stroke<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    points: Vec<CT::From>,
    color: RGBColor,
    stroke: Stroke,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    match stroke {
        Stroke::Solid => area.draw(&PathElement::new(points, stroke_style(color))),
        Stroke::Dashed => {
            area.draw(&DashedPathElement::new(points, DASH.0, DASH.1, stroke_style(color)))
        }
        Stroke::Dotted => {
            area.draw(&DashedPathElement::new(points, DOT.0, DOT.1, stroke_style(color)))
        }
    }
}

/// Writes `chart` as an SVG file: the plot on the left, its legend in a strip on the right.
pub fn line_chart(path: &Path, chart: &Chart) -> Result<()> {
    let fail = |e: DrawingAreaErrorKind<std::io::Error>| anyhow!("{}: {e:?}", path.display());
    let names: Vec<&str> = chart
        .bands
        .iter()
        .map(|b| b.name.as_str())
        .chain(chart.series.iter().map(|s| s.name.as_str()))
        .collect();
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(fail)?;
    let body = root.titled(&chart.title, ("sans-serif", 20)).map_err(fail)?;
    let (plot, legend) = body.split_horizontally(WIDTH - legend_width(&names));

    let (x0, x1, y0, y1) = extent(chart);
    let (x_ticks, y_ticks) = (10, 8);
    let (x_res, y_res) = (tick_resolution(x0, x1, x_ticks), tick_resolution(y0, y1, y_ticks));
    let x_format = |v: &f64| tick_label(chart.x.scale, *v, x_res);
    let y_format = |v: &f64| tick_label(chart.y.scale, *v, y_res);
    let mut drawn = ChartBuilder::on(&plot)
        .margin_top(10)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(6)
        .x_label_area_size(44)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(fail)?;
    drawn
        .configure_mesh()
        .x_desc(chart.x.label.as_str())
        .y_desc(chart.y.label.as_str())
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(fail)?;
    for band in &chart.bands {
        let outline: Vec<(f64, f64)> =
            band.lower.iter().chain(band.upper.iter().rev()).copied().collect();
        drawn
            .plotting_area()
            .draw(&Polygon::new(outline, band.color.mix(0.22).filled()))
            .map_err(fail)?;
    }
    for series in &chart.series {
        draw_stroke(drawn.plotting_area(), series.points.clone(), series.color, series.stroke)
            .map_err(fail)?;
    }
    draw_legend(&legend, chart).map_err(fail)?;
    root.present().map_err(fail)?;
    Ok(())
}

/// What a legend entry shows beside its name.
enum Swatch {
    Band(RGBColor),
    Line(RGBColor, Stroke),
}

/// The legend: a swatch drawn like its line (a shaded block for a band) and the wrapped name.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", LEGEND_FONT).into_font().color(&BLACK.mix(0.85));
    let line_height = LEGEND_FONT as i32 + 4;
    let (swatch_x, swatch_width, text_x) = (4, 32, 44);
    let entries = chart
        .bands
        .iter()
        .map(|b| (&b.name, Swatch::Band(b.color)))
        .chain(chart.series.iter().map(|s| (&s.name, Swatch::Line(s.color, s.stroke))));
    let mut y = 16;
    for (name, swatch) in entries {
        let mid = y + line_height / 2 - 2;
        match swatch {
            Swatch::Band(color) => area.draw(&Rectangle::new(
                [(swatch_x, mid - 6), (swatch_x + swatch_width, mid + 6)],
                color.mix(0.22).filled(),
            ))?,
            Swatch::Line(color, stroke) => draw_stroke(
                area,
                vec![(swatch_x, mid), (swatch_x + swatch_width, mid)],
                color,
                stroke,
            )?,
        }
        for line in wrap(name, LEGEND_CHARS) {
            area.draw_text(&line, &font, (text_x, y))?;
            y += line_height;
        }
        y += 8;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_labels_are_compact_dollars() {
        let cases = [
            (0.0, "$0"),
            (0.3, "$0"),
            (950.0, "$950"),
            (1_000.0, "$1k"),
            (12_345.0, "$12.3k"),
            (350_000.0, "$350k"),
            (999_999.0, "$1M"),
            (1_200_000.0, "$1.2M"),
            (1_234_567.0, "$1.23M"),
            (10_540_000.0, "$10.5M"),
            (3_450_000_000.0, "$3.45B"),
            (-50_000.0, "-$50k"),
        ];
        for (value, expected) in cases {
            assert_eq!(money_label(value), expected, "{value}");
        }
    }

    #[test]
    fn money_ticks_keep_the_precision_their_spacing_needs() {
        // Ticks $50k apart around $10M must not print the same label twice.
        let resolution = tick_resolution(9_950_000.0, 10_600_000.0, 8);
        let labels: Vec<String> =
            (0..14).map(|i| money_tick(9_950_000.0 + 50_000.0 * i as f64, resolution)).collect();
        assert_eq!(labels[0], "$9.95M");
        assert_eq!(labels[1], "$10M");
        assert_eq!(labels[2], "$10.05M");
        let unique: std::collections::BTreeSet<&String> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len(), "{labels:?}");
        // Coarse ticks print no decimals; tiny ones print cents at most.
        assert_eq!(money_tick(400_000.0, 100_000.0), "$400k");
        assert_eq!(money_tick(0.25, 0.01), "$0.25");
        assert_eq!(money_tick(-0.0, 0.1), "$0");
    }

    #[test]
    fn number_labels_drop_trailing_zeros() {
        assert_eq!(number_label(10.0, 1.0), "10");
        assert_eq!(number_label(0.75, 0.01), "0.75");
        assert_eq!(number_label(0.7, 0.01), "0.7");
        assert_eq!(number_label(-0.0001, 0.1), "0");
        assert_eq!(tick_label(Scale::Percent, 62.5, 0.1), "62.5%");
    }

    #[test]
    fn the_time_axis_is_in_minutes_hours_or_days_by_the_runs_length() {
        // crash-30pct: 120 one-minute steps, two hours.
        let minutes = TimeAxis::for_run(120, 60);
        assert_eq!(minutes.unit, TimeUnit::Minutes);
        assert_eq!(minutes.at(15), 15.0);
        assert_eq!(minutes.axis().label, "time (minutes)");
        // Three hours is still minutes; a minute more is hours.
        assert_eq!(TimeAxis::for_run(180, 60).unit, TimeUnit::Minutes);
        let hours = TimeAxis::for_run(181, 60);
        assert_eq!(hours.unit, TimeUnit::Hours);
        assert_eq!(hours.at(90), 1.5);
        // Hourly steps for four days are hours; five days are days.
        assert_eq!(TimeAxis::for_run(96, 3_600).unit, TimeUnit::Hours);
        let days = TimeAxis::for_run(120, 3_600);
        assert_eq!(days.unit, TimeUnit::Days);
        assert_eq!(days.at(36), 1.5);
        assert_eq!(TimeAxis::for_run(60, 86_400).axis().label, "time (days)");
    }

    #[test]
    fn legend_names_wrap_at_spaces() {
        assert_eq!(wrap("SOL with feedback", 30), ["SOL with feedback"]);
        assert_eq!(
            wrap("SOL stable price (EMA), with feedback", 20),
            ["SOL stable price", "(EMA), with feedback"]
        );
        assert_eq!(wrap("averyveryverylongword x", 5), ["averyveryverylongword", "x"]);
    }

    #[test]
    fn a_y_axis_of_positive_data_starts_no_lower_than_zero() {
        let flat = |y: f64| Series {
            name: "s".into(),
            points: vec![(1.0, y), (2.0, y)],
            color: WITH_FEEDBACK,
            stroke: Stroke::Solid,
        };
        let chart = |s: Vec<Series>| Chart::new("t", Axis::number("x"), Axis::money("y"), s);
        let (_, _, low, high) = extent(&chart(vec![flat(0.0)]));
        assert_eq!(low, 0.0);
        assert!(high > 0.0, "a flat line at zero still gets a range");
        let (_, _, low, _) = extent(&chart(vec![flat(10.0), flat(100.0)]));
        assert!((low - 2.8).abs() < 1e-9, "padded by 8% of the span: {low}");
        let (_, _, low, _) = extent(&chart(vec![flat(1.0), flat(100.0)]));
        assert_eq!(low, 0.0, "padding does not cross zero");
        let (_, _, low, _) = extent(&chart(vec![flat(-10.0), flat(10.0)]));
        assert!(low < -10.0);
    }
}
