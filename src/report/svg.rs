//! Charts as inline SVG: drawn by the browser with JavaScript off, no fonts or scripts from
//! anywhere. Every chart carries `data-chart`, every mark `data-mark` and `data-value` (the
//! minor units it draws), so a test can read what a chart shows.

use std::fmt::Write;

/// A chart's drawing area in user units: the browser scales it to the card's width, so a
/// chart in a half-width card and one across the page keep the same text size.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub w: f64,
    pub h: f64,
    /// Room for the value axis' labels (see [`Frame::fit`]).
    left: f64,
}

impl Frame {
    /// Room on the left for the longest of the axis' labels, at the larger text of narrow
    /// screens (the page's style).
    fn fit(self, scale: &Scale, fmt: &dyn Fn(i64) -> String) -> Frame {
        let longest = scale
            .ticks()
            .into_iter()
            .map(|t| tick_label(fmt, t).chars().count())
            .max()
            .unwrap_or(1);
        Frame {
            left: (longest as f64 * 9.0 + 12.0).max(40.0),
            ..self
        }
    }
}

/// An axis label: round values need no cents.
fn tick_label(fmt: &dyn Fn(i64) -> String, t: f64) -> String {
    let label = fmt(t as i64);
    match label.strip_suffix(".00") {
        Some(whole) => whole.to_string(),
        None => label,
    }
}

/// In a half-width card (two side by side on a wide screen).
pub const HALF: Frame = Frame {
    w: 560.0,
    h: 240.0,
    left: 78.0,
};
/// Across the page.
pub const WIDE: Frame = Frame {
    w: 1100.0,
    h: 280.0,
    left: 78.0,
};

const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 34.0;

/// Colours of the movement types, and of the other series.
pub const NEW: &str = "#2f7d4f";
pub const EXPANSION: &str = "#5aa66f";
pub const REACTIVATION: &str = "#9bc9a4";
pub const CONTRACTION: &str = "#e39a52";
pub const CHURN: &str = "#c8453b";
pub const LINE: &str = "#2b4c7e";
pub const MUTED: &str = "#9aa5b1";

/// A value axis from `lo` to `hi` (both included, zero always), with round gridlines.
struct Scale {
    lo: f64,
    hi: f64,
    h: f64,
}

impl Scale {
    fn new(frame: Frame, values: impl Iterator<Item = i64>) -> Scale {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in values {
            lo = lo.min(v as f64);
            hi = hi.max(v as f64);
        }
        if hi == lo {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 4.0);
        Scale {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            h: frame.h,
        }
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (self.hi - v) / (self.hi - self.lo) * (self.h - TOP - BOTTOM)
    }

    fn ticks(&self) -> Vec<f64> {
        let step = nice_step((self.hi - self.lo) / 4.0);
        let mut out = Vec::new();
        let mut t = self.lo;
        while t <= self.hi + step / 2.0 {
            out.push(t);
            t += step;
        }
        out
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn open(out: &mut String, frame: Frame, id: &str, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" data-chart="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">"#,
        esc(id),
        frame.w,
        frame.h,
        esc(label)
    );
}

/// Gridlines and value labels (formatted by `fmt`, from minor units).
fn grid(out: &mut String, frame: Frame, scale: &Scale, fmt: &dyn Fn(i64) -> String) {
    for t in scale.ticks() {
        let y = scale.y(t);
        let _ = write!(
            out,
            r##"<line x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e7eb" stroke-width="1"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            frame.left,
            frame.w - RIGHT,
            frame.left - 6.0,
            y + 4.0,
            esc(&tick_label(fmt, t))
        );
    }
    let zero = scale.y(0.0);
    let _ = write!(
        out,
        r##"<line x1="{}" x2="{}" y1="{zero:.1}" y2="{zero:.1}" stroke="#7b8794" stroke-width="1"/>"##,
        frame.left,
        frame.w - RIGHT
    );
}

/// Category labels under the plot, thinned to fit (counted from the last, the most recent).
fn labels(out: &mut String, frame: Frame, xs: &[(f64, String)]) {
    let longest = xs.iter().map(|x| x.1.chars().count()).max().unwrap_or(1) as f64;
    // Wide enough for the larger tick text of narrow screens (see the page's style).
    let room = longest * 9.0 + 14.0;
    let fit = ((frame.w - frame.left - RIGHT) / room).floor().max(1.0) as usize;
    let every = xs.len().div_ceil(fit).max(1);
    for (i, (x, label)) in xs.iter().enumerate() {
        if (xs.len() - 1 - i).is_multiple_of(every) {
            // The last label ends at the edge rather than being cut by it.
            let (x, anchor) = match *x + room / 2.0 > frame.w {
                true => (frame.w - 2.0, "end"),
                false => (*x, "middle"),
            };
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{}" class="tick" text-anchor="{anchor}">{}</text>"#,
                frame.h - 12.0,
                esc(label)
            );
        }
    }
}

fn slot(frame: Frame, i: usize, n: usize) -> (f64, f64) {
    let width = (frame.w - frame.left - RIGHT) / n.max(1) as f64;
    (frame.left + width * i as f64, width)
}

/// A point's radius: smaller where points are dense (a year of days).
fn radius(slot_width: f64) -> f64 {
    (slot_width * 0.35).clamp(1.2, 3.0)
}

/// A line of `(label, value)` points, each a marked point.
pub fn line(
    frame: Frame,
    id: &str,
    label: &str,
    points: &[(String, i64)],
    fmt: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, frame, id, label);
    let scale = Scale::new(frame, points.iter().map(|p| p.1));
    let frame = frame.fit(&scale, fmt);
    grid(&mut out, frame, &scale, fmt);
    let xs: Vec<(f64, String)> = (0..points.len())
        .map(|i| {
            let (x, w) = slot(frame, i, points.len());
            (x + w / 2.0, points[i].0.clone())
        })
        .collect();
    let path: Vec<String> = xs
        .iter()
        .zip(points)
        .map(|((x, _), (_, v))| format!("{x:.1},{:.1}", scale.y(*v as f64)))
        .collect();
    let _ = write!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{LINE}" stroke-width="2"/>"#,
        path.join(" ")
    );
    for ((x, name), (_, v)) in xs.iter().zip(points) {
        let _ = write!(
            out,
            r#"<circle data-mark="{}" data-value="{v}" cx="{x:.1}" cy="{:.1}" r="{:.1}" fill="{LINE}"><title>{}: {}</title></circle>"#,
            esc(name),
            scale.y(*v as f64),
            radius(slot(frame, 0, points.len()).1),
            esc(name),
            esc(&fmt(*v))
        );
    }
    labels(&mut out, frame, &xs);
    out.push_str("</svg>");
    out
}

/// One stack of a stacked bar: a named part and its value.
pub struct Part<'a> {
    pub name: &'a str,
    pub value: i64,
    pub color: &'a str,
}

/// Bars stacked upward for positive parts and downward for negative ones, one per category,
/// with an optional line (the net) across them.
pub fn stacked(
    frame: Frame,
    id: &str,
    label: &str,
    categories: &[(String, Vec<Part<'_>>)],
    net: Option<&[i64]>,
    fmt: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, frame, id, label);
    let extremes = categories.iter().flat_map(|(_, parts)| {
        let up: i64 = parts.iter().map(|p| p.value.max(0)).sum();
        let down: i64 = parts.iter().map(|p| p.value.min(0)).sum();
        [up, down]
    });
    let scale = Scale::new(frame, extremes.chain(net.into_iter().flatten().copied()));
    let frame = frame.fit(&scale, fmt);
    grid(&mut out, frame, &scale, fmt);
    let mut xs = Vec::new();
    for (i, (name, parts)) in categories.iter().enumerate() {
        let (x, w) = slot(frame, i, categories.len());
        let bar = (w * 0.7).max(1.0);
        let left = x + (w - bar) / 2.0;
        let (mut up, mut down) = (0.0f64, 0.0f64);
        for p in parts.iter().filter(|p| p.value != 0) {
            let v = p.value as f64;
            let (from, to) = if v > 0.0 {
                up += v;
                (up - v, up)
            } else {
                down += v;
                (down - v, down)
            };
            let (y1, y2) = (scale.y(to.max(from)), scale.y(to.min(from)));
            let _ = write!(
                out,
                r#"<rect data-mark="{} {}" data-value="{}" x="{left:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                esc(name),
                p.name,
                p.value,
                (y2 - y1).max(0.5),
                p.color,
                esc(name),
                p.name,
                esc(&fmt(p.value))
            );
        }
        xs.push((x + w / 2.0, name.clone()));
    }
    if let Some(net) = net {
        let path: Vec<String> = xs
            .iter()
            .zip(net)
            .map(|((x, _), v)| format!("{x:.1},{:.1}", scale.y(*v as f64)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{LINE}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for ((x, name), v) in xs.iter().zip(net) {
            let _ = write!(
                out,
                r#"<circle data-mark="{} net" data-value="{v}" cx="{x:.1}" cy="{:.1}" r="{:.1}" fill="{LINE}"><title>{} net: {}</title></circle>"#,
                esc(name),
                scale.y(*v as f64),
                radius(slot(frame, 0, categories.len()).1),
                esc(name),
                esc(&fmt(*v))
            );
        }
    }
    labels(&mut out, frame, &xs);
    out.push_str("</svg>");
    out
}

/// A waterfall: the first and last steps are totals, the others move from the running total.
/// Each step is (its name, its short label under the bar, its value).
pub fn waterfall(
    frame: Frame,
    id: &str,
    label: &str,
    steps: &[(&str, &str, i64)],
    fmt: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, frame, id, label);
    let mut running = 0i64;
    let mut spans = Vec::new();
    for (i, (name, short, v)) in steps.iter().enumerate() {
        let total = i == 0 || i + 1 == steps.len();
        let (from, to) = if total {
            running = *v;
            (0, *v)
        } else {
            running += v;
            (running - v, running)
        };
        spans.push((*name, *short, *v, from, to, total));
    }
    let scale = Scale::new(frame, spans.iter().flat_map(|s| [s.3, s.4]));
    let frame = frame.fit(&scale, fmt);
    grid(&mut out, frame, &scale, fmt);
    let mut xs = Vec::new();
    for (i, (name, short, v, from, to, total)) in spans.iter().enumerate() {
        let (x, w) = slot(frame, i, spans.len());
        let bar = w * 0.6;
        let left = x + (w - bar) / 2.0;
        let (y1, y2) = (
            scale.y((*from).max(*to) as f64),
            scale.y((*from).min(*to) as f64),
        );
        let color = match (total, *v >= 0) {
            (true, _) => LINE,
            (false, true) => NEW,
            (false, false) => CHURN,
        };
        let _ = write!(
            out,
            r#"<rect data-mark="{name}" data-value="{v}" x="{left:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{name}: {}</title></rect>"#,
            (y2 - y1).max(0.5),
            esc(&fmt(*v))
        );
        xs.push((x + w / 2.0, short.to_string()));
    }
    // Every step is labelled: a bridge with a missing name cannot be read.
    for (x, short) in &xs {
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
            frame.h - 12.0,
            esc(short)
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per row, labelled with `fmt` of their value.
pub fn hbars(
    frame: Frame,
    id: &str,
    label: &str,
    rows: &[(String, i64)],
    fmt: &dyn Fn(i64) -> String,
) -> String {
    let height = (rows.len() as f64 * 26.0 + 16.0).max(60.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" data-chart="{}" viewBox="0 0 {} {height}" role="img" aria-label="{}">"#,
        esc(id),
        frame.w,
        esc(label)
    );
    let max = rows.iter().map(|r| r.1.max(0)).max().unwrap_or(0).max(1) as f64;
    let (label_w, value_w) = (150.0, 110.0);
    for (i, (name, v)) in rows.iter().enumerate() {
        let y = 8.0 + i as f64 * 26.0;
        let w = (frame.w - label_w - value_w) * (*v).max(0) as f64 / max;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text><rect data-mark="{}" data-value="{v}" x="{label_w}" y="{y:.1}" width="{:.1}" height="18" fill="{LINE}"/><text x="{:.1}" y="{:.1}" class="tick">{}</text>"#,
            label_w - 8.0,
            y + 13.0,
            esc(name),
            esc(name),
            w.max(1.0),
            label_w + w + 6.0,
            y + 13.0,
            esc(&fmt(*v))
        );
    }
    out.push_str("</svg>");
    out
}

/// Escapes text for HTML and SVG.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_is_a_mark_with_its_value() {
        let fmt = |v: i64| v.to_string();
        let svg = line(
            HALF,
            "mrr",
            "MRR",
            &[("2026-01".into(), 100), ("2026-02".into(), 250)],
            &fmt,
        );
        assert!(svg.contains(r#"data-chart="mrr""#));
        assert_eq!(svg.matches("data-mark=").count(), 2);
        assert!(svg.contains(r#"data-value="250""#));
        let bars = stacked(
            WIDE,
            "m",
            "moves",
            &[(
                "2026-01".into(),
                vec![
                    Part {
                        name: "new",
                        value: 50,
                        color: NEW,
                    },
                    Part {
                        name: "churn",
                        value: -20,
                        color: CHURN,
                    },
                    Part {
                        name: "expansion",
                        value: 0,
                        color: EXPANSION,
                    },
                ],
            )],
            Some(&[30]),
            &fmt,
        );
        assert_eq!(
            bars.matches("<rect data-mark").count(),
            2,
            "zero parts are not drawn"
        );
        assert_eq!(nice_step(37.0), 50.0);
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
