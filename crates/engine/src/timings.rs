//! The timeline of a run and its Gantt chart (`up --timings`).
//!
//! [`Timeline`] wraps the run's [`Reporter`]: every progress event is passed on unchanged and
//! kept with the time since the run started. Nothing else is instrumented; the resource crates
//! already report when they start acting on a resource (`Applying`), every state a wait
//! observes (`Waiting`) and readiness (`Ready`). [`Chart::build`] turns those stamps into one
//! [`Bar`] per resource: from its first `Applying` (or first `Waiting`) to its `Ready`, the
//! part after the first `Waiting` being the time AWS spent. [`Chart::html`] renders a
//! self-contained HTML page (inline SVG and CSS, no script, no external reference).
//!
//! # Guarantees
//! - One bar per resource a run acted on or waited for: a resource that was only found ready
//!   has none. Identities a crate reports under a second name are folded into the first: a
//!   task definition's `family:revision` into its family, a NAT gateway's or a one-off task's
//!   id into the bar of its create (or run).
//! - A resource whose crate reports no `Ready` ends at the run's next event after its last
//!   one (an estimate, drawn dashed), or at the end of the run.
//! - The critical path is walked back from the bar that ends last: each step goes to the bar
//!   whose end is the latest at or before the current bar's start.
//! - Pure apart from the clock of [`Timeline`]; no AWS call.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orchestrate_core::{Event, Names, Phase, Reporter};

use crate::graph::Node;

/// One event and when it happened, from the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Time since the [`Timeline`] was created.
    pub at: Duration,
    /// The event.
    pub event: Event,
}

/// A [`Reporter`] that keeps every event with its time and passes it on.
pub struct Timeline {
    inner: Arc<dyn Reporter>,
    start: Instant,
    stamps: Mutex<Vec<Stamp>>,
}

impl Timeline {
    /// Starts the clock; events go on to `inner`.
    pub fn new(inner: Arc<dyn Reporter>) -> Self {
        Self {
            inner,
            start: Instant::now(),
            stamps: Mutex::new(Vec::new()),
        }
    }

    /// Every event so far, in the order reported.
    pub fn stamps(&self) -> Vec<Stamp> {
        self.stamps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The chart of the run so far, resources of deployment `names` grouped by phase.
    pub fn chart(&self, names: &Names) -> Chart {
        Chart::for_run(&self.stamps(), self.elapsed(), names)
    }
}

impl Reporter for Timeline {
    fn report(&self, event: Event) {
        let at = self.start.elapsed();
        if let Ok(mut stamps) = self.stamps.lock() {
            stamps.push(Stamp {
                at,
                event: event.clone(),
            });
        }
        self.inner.report(event);
    }
}

/// One resource on the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Resource kind, e.g. `rds/db-instance`.
    pub kind: String,
    /// Resource name as first reported.
    pub name: String,
    /// What the run did first (`create`, `update`, `register`, `run`, ...; `wait` when it
    /// only waited).
    pub action: String,
    /// The phase the resource belongs to; `None` for what belongs to none (images).
    pub phase: Option<Phase>,
    /// When the run started acting on it.
    pub start: Duration,
    /// When the first wait on it began (AWS's part from here to `end`).
    pub wait: Option<Duration>,
    /// When it was reported ready (or the estimate, see `reported_end`).
    pub end: Duration,
    /// Whether `end` is a `Ready` event (false: estimated).
    pub reported_end: bool,
    /// Whether it is on the critical path.
    pub critical: bool,
}

impl Bar {
    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// `kind name`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

/// The bars of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chart {
    /// Every bar, in the order the resources were first reported.
    pub bars: Vec<Bar>,
    /// The whole run.
    pub total: Duration,
}

/// A bar under construction.
struct Open {
    bar: Bar,
    /// Index of its last own stamp.
    last: usize,
    /// Whether a second name was folded into it.
    aliased: bool,
}

const TASK_KIND: &str = orchestrate_ecs::task::KIND;
const TASK_DEFINITION_KIND: &str = orchestrate_ecs::taskdef::KIND;

/// A one-off task's display name: its task definition `family:revision` (from the ARN).
fn task_name(name: &str) -> String {
    name.rsplit_once("task-definition/")
        .map_or(name, |(_, label)| label)
        .to_string()
}

/// A task definition's family from `family:revision`.
fn family(label: &str) -> &str {
    match label.rsplit_once(':') {
        Some((family, revision)) if revision.chars().all(|c| c.is_ascii_digit()) => family,
        _ => label,
    }
}

impl Chart {
    /// The chart of a run of deployment `names`: phases from
    /// [`crate::resource_phase::phase_of`] (a one-off task in its family's phase).
    pub fn for_run(stamps: &[Stamp], total: Duration, names: &Names) -> Self {
        Self::build(stamps, total, |kind, name| {
            if kind == TASK_KIND {
                crate::resource_phase::phase_of(names, TASK_DEFINITION_KIND, family(name))
            } else {
                crate::resource_phase::phase_of(names, kind, name)
            }
        })
    }

    /// Builds the bars from `stamps` (see the module's guarantees) and marks the critical
    /// path; `phase_of` places a resource (`kind`, display name) in its phase.
    pub fn build(
        stamps: &[Stamp],
        total: Duration,
        phase_of: impl Fn(&str, &str) -> Option<Phase>,
    ) -> Self {
        let mut open: Vec<Open> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for (i, stamp) in stamps.iter().enumerate() {
            let at = stamp.at;
            match &stamp.event {
                Event::Applying { kind, name, action } => {
                    let key = (kind.clone(), name.clone());
                    if let Some(&b) = index.get(&key) {
                        let o = &mut open[b];
                        o.last = i;
                        o.bar.reported_end = false;
                        continue;
                    }
                    let shown = if kind == TASK_KIND {
                        task_name(name)
                    } else {
                        name.clone()
                    };
                    index.insert(key, open.len());
                    open.push(Open {
                        bar: Bar {
                            kind: kind.clone(),
                            phase: phase_of(kind, &shown),
                            name: shown,
                            action: action.clone(),
                            start: at,
                            wait: None,
                            end: at,
                            reported_end: false,
                            critical: false,
                        },
                        last: i,
                        aliased: false,
                    });
                }
                Event::Waiting { kind, name, .. } => {
                    let b = match resolve(&mut open, &mut index, kind, name) {
                        Some(b) => b,
                        None => {
                            index.insert((kind.clone(), name.clone()), open.len());
                            open.push(Open {
                                bar: Bar {
                                    kind: kind.clone(),
                                    phase: phase_of(kind, name),
                                    name: name.clone(),
                                    action: "wait".into(),
                                    start: at,
                                    wait: Some(at),
                                    end: at,
                                    reported_end: false,
                                    critical: false,
                                },
                                last: i,
                                aliased: false,
                            });
                            continue;
                        }
                    };
                    let o = &mut open[b];
                    o.bar.wait.get_or_insert(at);
                    o.last = i;
                }
                Event::Ready { kind, name } => {
                    if let Some(b) = resolve(&mut open, &mut index, kind, name) {
                        let o = &mut open[b];
                        o.bar.end = at;
                        o.bar.reported_end = true;
                        o.last = i;
                    }
                }
                Event::Note { .. } => {}
            }
        }
        let bars = open
            .into_iter()
            .map(|o| {
                let mut bar = o.bar;
                if !bar.reported_end {
                    bar.end = stamps
                        .get(o.last + 1)
                        .map_or(total, |s| s.at)
                        .max(bar.start);
                }
                bar
            })
            .collect();
        let mut chart = Chart {
            bars,
            total: total.max(stamps.last().map_or(Duration::ZERO, |s| s.at)),
        };
        for i in chart.critical_path() {
            chart.bars[i].critical = true;
        }
        chart
    }

    /// The critical path, first bar first: from the bar that ends last, back through the bar
    /// whose end is the latest at or before each bar's start.
    pub fn critical_path(&self) -> Vec<usize> {
        let Some(mut current) = (0..self.bars.len()).max_by_key(|&i| (self.bars[i].end, i)) else {
            return Vec::new();
        };
        let mut path = vec![current];
        loop {
            let start = self.bars[current].start;
            let previous = (0..self.bars.len())
                .filter(|i| !path.contains(i) && self.bars[*i].end <= start)
                .max_by_key(|&i| (self.bars[i].end, self.bars[i].duration(), i));
            match previous {
                Some(p) => {
                    path.push(p);
                    current = p;
                }
                None => break,
            }
        }
        path.reverse();
        path
    }

    /// The sum of the critical path's bars.
    pub fn critical_total(&self) -> Duration {
        self.bars
            .iter()
            .filter(|b| b.critical)
            .map(Bar::duration)
            .sum()
    }

    /// The `n` longest bars, longest first.
    pub fn longest(&self, n: usize) -> Vec<&Bar> {
        let mut bars: Vec<&Bar> = self.bars.iter().collect();
        bars.sort_by(|a, b| b.duration().cmp(&a.duration()).then(a.start.cmp(&b.start)));
        bars.truncate(n);
        bars
    }

    /// The bars grouped by phase (phases in order, then what belongs to none), each group in
    /// the order its bars start.
    pub fn groups(&self) -> Vec<(Option<Phase>, Vec<&Bar>)> {
        let mut groups: Vec<(Option<Phase>, Vec<&Bar>)> = Phase::ALL
            .iter()
            .map(|p| Some(*p))
            .chain(std::iter::once(None))
            .map(|phase| {
                let mut bars: Vec<&Bar> = self.bars.iter().filter(|b| b.phase == phase).collect();
                bars.sort_by_key(|b| (b.start, b.end));
                (phase, bars)
            })
            .collect();
        groups.retain(|(_, bars)| !bars.is_empty());
        groups
    }

    /// A self-contained HTML page: the Gantt chart as inline SVG, then a table of every bar.
    pub fn html(&self, title: &str) -> String {
        const LABEL: f64 = 380.0;
        const PLOT: f64 = 760.0;
        const ROW: f64 = 20.0;
        const TOP: f64 = 30.0;
        let total = self.total.as_secs_f64().max(0.001);
        let x = |d: Duration| LABEL + d.as_secs_f64() / total * PLOT;
        let groups = self.groups();
        let rows = groups.iter().map(|(_, b)| b.len() + 1).sum::<usize>();
        let height = TOP + ROW * rows as f64 + 10.0;
        let width = LABEL + PLOT + 30.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg role=\"img\" width=\"{width:.0}\" height=\"{height:.0}\" \
             viewBox=\"0 0 {width:.0} {height:.0}\">"
        );
        let step = tick_step(total);
        let mut t = 0.0;
        while t <= total + 1e-9 {
            let tx = LABEL + t / total * PLOT;
            let _ = write!(
                svg,
                "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{y1:.0}\" x2=\"{tx:.1}\" \
                 y2=\"{height:.0}\"/><text class=\"axis\" x=\"{tx:.1}\" y=\"{ty:.0}\">{t:.0} s</text>",
                y1 = TOP - 6.0,
                ty = TOP - 10.0,
            );
            t += step;
        }
        let mut y = TOP;
        for (phase, bars) in &groups {
            let _ = write!(
                svg,
                "<text class=\"phase\" x=\"4\" y=\"{:.0}\">{}</text>",
                y + 14.0,
                escape(&phase_title(*phase))
            );
            y += ROW;
            for bar in bars {
                let (x0, x1) = (x(bar.start), x(bar.end).max(x(bar.start) + 2.0));
                let xw = bar.wait.map_or(x1, |w| x(w).clamp(x0, x1));
                let mut class = String::from("bar");
                if bar.critical {
                    class.push_str(" critical");
                }
                if !bar.reported_end {
                    class.push_str(" estimated");
                }
                let _ = write!(
                    svg,
                    "<g class=\"{class}\" data-phase=\"{phase}\" data-kind=\"{kind}\" \
                     data-name=\"{name}\" data-start-ms=\"{start}\" data-end-ms=\"{end}\">\
                     <title>{label}: {dur} ({action}{wait}{est})</title>\
                     <text class=\"label\" x=\"{lx:.0}\" y=\"{ly:.0}\">{short}</text>\
                     <rect class=\"apply\" x=\"{x0:.1}\" y=\"{ry:.0}\" width=\"{aw:.1}\" height=\"14\"/>\
                     <rect class=\"wait\" x=\"{xw:.1}\" y=\"{ry:.0}\" width=\"{ww:.1}\" height=\"14\"/></g>",
                    phase = bar.phase.map_or(0, Phase::number),
                    kind = escape(&bar.kind),
                    name = escape(&bar.name),
                    start = bar.start.as_millis(),
                    end = bar.end.as_millis(),
                    label = escape(&bar.label()),
                    dur = seconds(bar.duration()),
                    action = escape(&bar.action),
                    wait = bar.wait.map_or(String::new(), |w| format!(
                        ", waited {}",
                        seconds(bar.end.saturating_sub(w))
                    )),
                    est = if bar.reported_end {
                        ""
                    } else {
                        ", end estimated"
                    },
                    lx = LABEL - 6.0,
                    ly = y + 13.0,
                    short = escape(&shorten(&bar.label(), 58)),
                    ry = y + 3.0,
                    aw = (xw - x0).max(0.0),
                    ww = (x1 - xw).max(0.0),
                );
                y += ROW;
            }
        }
        svg.push_str("</svg>");

        let mut table = String::from(
            "<table><thead><tr><th>phase</th><th>resource</th><th>action</th><th>start</th>\
             <th>waited</th><th>end</th><th>duration</th><th>critical</th></tr></thead><tbody>",
        );
        for (phase, bars) in &groups {
            for bar in bars {
                let _ = write!(
                    table,
                    "<tr{cls}><td>{phase}</td><td>{label}</td><td>{action}</td><td>{start}</td>\
                     <td>{wait}</td><td>{end}{est}</td><td>{dur}</td><td>{crit}</td></tr>",
                    cls = if bar.critical {
                        " class=\"critical\""
                    } else {
                        ""
                    },
                    phase = escape(&phase_title(*phase)),
                    label = escape(&bar.label()),
                    action = escape(&bar.action),
                    start = seconds(bar.start),
                    wait = bar
                        .wait
                        .map_or("—".to_string(), |w| seconds(bar.end.saturating_sub(w))),
                    end = seconds(bar.end),
                    est = if bar.reported_end { "" } else { " (est.)" },
                    dur = seconds(bar.duration()),
                    crit = if bar.critical { "yes" } else { "" },
                );
            }
        }
        table.push_str("</tbody></table>");

        let longest: String = self
            .longest(5)
            .iter()
            .map(|b| {
                format!(
                    "<li>{} — {}{}</li>",
                    seconds(b.duration()),
                    escape(&b.label()),
                    if b.critical { " (critical path)" } else { "" }
                )
            })
            .collect();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title><style>{STYLE}</style></head><body>\
             <h1>{title}</h1><p>{bars} resources in {total}; critical path {critical} \
             (<span class=\"key critical\">critical</span> <span class=\"key apply\">acting</span> \
             <span class=\"key wait\">waiting on AWS</span> <span class=\"key estimated\">end \
             estimated: no ready event</span>)</p><h2>Longest</h2><ol>{longest}</ol>{svg}\
             <h2>Every resource</h2>{table}</body></html>\n",
            title = escape(title),
            bars = self.bars.len(),
            total = seconds(self.total),
            critical = seconds(self.critical_total()),
        )
    }
}

/// The bar `kind`/`name` refers to: the same key, a task definition's family, or (for a
/// second identity such as a NAT gateway's or a task's id) the oldest bar of the same kind
/// that was created or run, has not waited and has no second name yet.
fn resolve(
    open: &mut [Open],
    index: &mut HashMap<(String, String), usize>,
    kind: &str,
    name: &str,
) -> Option<usize> {
    let key = (kind.to_string(), name.to_string());
    if let Some(&b) = index.get(&key) {
        return Some(b);
    }
    if kind == TASK_DEFINITION_KIND {
        return index
            .get(&(kind.to_string(), family(name).to_string()))
            .copied();
    }
    let b = open.iter().position(|o| {
        o.bar.kind == kind
            && !o.aliased
            && o.bar.wait.is_none()
            && !o.bar.reported_end
            && matches!(o.bar.action.as_str(), "create" | "run")
    })?;
    open[b].aliased = true;
    index.insert(key, b);
    Some(b)
}

const STYLE: &str = "body{font:13px sans-serif;margin:16px;color:#222}\
h1{font-size:18px}h2{font-size:15px;margin-top:20px}\
.tick{stroke:#ddd}.axis{font-size:10px;fill:#666;text-anchor:middle}\
.phase{font-weight:bold;font-size:12px}.label{font-size:11px;text-anchor:end}\
.apply{fill:#3b7dd8}.wait{fill:#9cc0ee}\
.critical .apply{fill:#c62828}.critical .wait{fill:#ef9a9a}\
.estimated rect{stroke:#555;stroke-dasharray:3 2}\
table{border-collapse:collapse;margin-top:8px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}\
tr.critical td{color:#c62828}\
.key{padding:0 4px;color:#fff}.key.critical{background:#c62828}.key.apply{background:#3b7dd8}\
.key.wait{background:#9cc0ee;color:#222}.key.estimated{border:1px dashed #555;color:#222}";

fn phase_title(phase: Option<Phase>) -> String {
    phase.map_or_else(
        || "no phase (images)".to_string(),
        |p| format!("phase {} {}", p.number(), p.name()),
    )
}

/// A round axis step giving at most about ten ticks.
fn tick_step(total: f64) -> f64 {
    let raw = total / 10.0;
    [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
    .find(|s| *s >= raw)
    .unwrap_or(1200.0)
}

/// `12.34 s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let head: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The critical path of `up --phase up_to` through the graph's edges ([`Node::needs`]), each
/// node taking `duration(node)` (any unit): its length and its nodes, first first. What
/// `scripts/bench.sh` compares a run's wall time with.
pub fn graph_critical_path(up_to: Phase, duration: impl Fn(Node) -> f64) -> (f64, Vec<Node>) {
    let mut finish: HashMap<Node, (f64, Option<Node>)> = HashMap::new();
    for node in Node::ALL.iter().copied().filter(|n| n.phase() <= up_to) {
        let before = node
            .needs()
            .iter()
            .filter_map(|need| finish.get(need).map(|(f, _)| (*f, *need)))
            .fold(None, |best: Option<(f64, Node)>, (f, need)| match best {
                Some((b, _)) if b >= f => best,
                _ => Some((f, need)),
            });
        let start = before.map_or(0.0, |(f, _)| f);
        finish.insert(node, (start + duration(node), before.map(|(_, n)| n)));
    }
    let Some((&last, &(length, _))) = finish
        .iter()
        .max_by(|a, b| a.1.0.total_cmp(&b.1.0).then(b.0.cmp(a.0)))
    else {
        return (0.0, Vec::new());
    };
    let mut path = vec![last];
    let mut current = last;
    while let Some(&(_, Some(previous))) = finish.get(&current) {
        path.push(previous);
        current = previous;
    }
    path.reverse();
    (length, path)
}

#[cfg(test)]
mod tests;
