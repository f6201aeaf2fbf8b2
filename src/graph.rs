//! The pipeline as a picture: stages as nodes, transitions as labelled edges, parallel splits as
//! fork points, joins and final stages marked, phases as clusters. Mermaid and Graphviz dot.

use std::fmt::Write;

use crate::ast::*;
use crate::print;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart`.
    Mermaid,
    /// Graphviz `digraph`.
    Dot,
}

#[derive(Debug)]
enum EdgeKind {
    Transition,
    Spawn,
    Skip,
}

#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    label: String,
    kind: EdgeKind,
}

/// A stage as drawn.
#[derive(Debug)]
struct Node {
    id: String,
    title: String,
    join: bool,
    is_final: bool,
}

/// A phase as drawn: a cluster around its stages.
#[derive(Debug)]
struct Cluster {
    id: String,
    title: String,
    stages: Vec<String>,
}

#[derive(Debug, Default)]
struct Model {
    stages: Vec<Node>,
    forks: Vec<String>,
    edges: Vec<Edge>,
    phases: Vec<Cluster>,
}

fn title(s: &Str) -> String {
    s.plain().unwrap_or_else(|| {
        let quoted = print::string(s);
        quoted.trim_matches('"').to_string()
    })
}

/// Derived fields by name, with their expressions as written.
type Derived = std::collections::BTreeMap<String, String>;

/// A condition as drawn; the derived fields it reads are spelled out after it, since the picture
/// shows no field list (`when margin < 0 · margin = amount - labour_cost`).
fn condition(cond: &Expr, derived: &Derived) -> String {
    let mut text = print::expr(cond);
    let mut names = std::collections::BTreeSet::new();
    crate::check::names_in(cond, &mut names);
    for n in names {
        if let Some(e) = derived.get(&n) {
            text.push_str(&format!(" · {n} = {e}"));
        }
    }
    text
}

fn trigger_label(t: &Transition, derived: &Derived) -> String {
    let mut parts = Vec::new();
    match &t.trigger {
        Some(Trigger::On(e)) => parts.push(e.name.clone()),
        Some(Trigger::After(d)) => parts.push(format!("after {}", print::expr(d))),
        Some(Trigger::At { end_of, at }) => {
            let eo = if *end_of { "end of " } else { "" };
            parts.push(format!("at {eo}{}", print::expr(at)));
        }
        None => {}
    }
    if let Some(n) = &t.timer_name {
        parts.push(format!("as {}", n.name));
    }
    if let Some(g) = &t.guard {
        parts.push(format!("when {}", condition(g, derived)));
    }
    parts.join(" ")
}

fn model(file: &File) -> Model {
    let mut m = Model::default();
    let derived: Derived = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Fields(fs) => Some(&fs.fields),
            _ => None,
        })
        .flatten()
        .filter_map(|f| Some((f.name.name.clone(), print::expr(f.derived.as_ref()?))))
        .collect();
    for item in &file.items {
        match item {
            Item::Stage(s) => {
                m.stages.push(Node {
                    id: s.id.name.clone(),
                    title: title(&s.title),
                    join: s.join,
                    is_final: s.is_final,
                });
                let from = s.id.name.clone();
                let mut first_target: Option<String> = None;
                for t in s.transitions() {
                    let label = trigger_label(t, &derived);
                    if first_target.is_none() {
                        first_target = t.targets.first().map(|i| i.name.clone());
                    }
                    fork_edges(&mut m, &from, &t.targets, label, EdgeKind::Transition);
                }
                for line in s.lines() {
                    if let StageLineKind::Skip(cond) = &line.kind
                        && let Some(to) = &first_target
                    {
                        m.edges.push(Edge {
                            from: from.clone(),
                            to: to.clone(),
                            label: format!("skip when {}", condition(cond, &derived)),
                            kind: EdgeKind::Skip,
                        });
                    }
                }
                let mut spawns = Vec::new();
                crate::check::visit_stage_actions(s, &mut |a| {
                    if let ActionKind::Spawn { targets, .. } = &a.kind {
                        spawns.push(targets.clone());
                    }
                });
                for targets in spawns {
                    fork_edges(
                        &mut m,
                        &from,
                        &targets,
                        "spawn deal".into(),
                        EdgeKind::Spawn,
                    );
                }
            }
            Item::Phase(p) => m.phases.push(Cluster {
                id: p.id.name.clone(),
                title: title(&p.title),
                stages: p.stages.iter().map(|s| s.name.clone()).collect(),
            }),
            _ => {}
        }
    }
    m
}

/// One edge per target; several targets go through a fork point so the split is visible.
fn fork_edges(m: &mut Model, from: &str, targets: &[Ident], label: String, kind: EdgeKind) {
    if targets.len() == 1 {
        m.edges.push(Edge {
            from: from.into(),
            to: targets[0].name.clone(),
            label,
            kind,
        });
        return;
    }
    let fork = format!("fork{}", m.forks.len() + 1);
    m.forks.push(fork.clone());
    m.edges.push(Edge {
        from: from.into(),
        to: fork.clone(),
        label,
        kind,
    });
    for t in targets {
        m.edges.push(Edge {
            from: fork.clone(),
            to: t.name.clone(),
            label: String::new(),
            kind: EdgeKind::Transition,
        });
    }
}

/// Draws the file's pipeline in the given format.
pub fn render(file: &File, format: Format) -> String {
    let m = model(file);
    match format {
        Format::Mermaid => mermaid(&m),
        Format::Dot => dot(&m),
    }
}

/// Mermaid node ids must be ASCII-safe; stage names may be in any script.
fn mermaid_id(name: &str) -> String {
    let mut out = String::from("s_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            let _ = write!(out, "u{:x}", c as u32);
        }
    }
    out
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', " ")
}

fn mermaid(m: &Model) -> String {
    let mut out = String::from("flowchart LR\n");
    let node = |out: &mut String,
                indent: &str,
                Node {
                    id,
                    title,
                    join,
                    is_final: fin,
                }: &Node| {
        let label = mermaid_text(title);
        let mid = mermaid_id(id);
        let _ = match (join, fin) {
            (true, _) => writeln!(out, "{indent}{mid}[[\"{label} ⧖ join\"]]"),
            (false, true) => writeln!(out, "{indent}{mid}([\"{label}\"])"),
            _ => writeln!(out, "{indent}{mid}[\"{label}\"]"),
        };
    };
    let in_phase = |id: &str| m.phases.iter().any(|c| c.stages.iter().any(|s| s == id));
    for Cluster {
        id: pid,
        title: ptitle,
        stages,
    } in &m.phases
    {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            mermaid_id(&format!("phase_{pid}")),
            mermaid_text(ptitle)
        );
        for s in stages {
            if let Some(st) = m.stages.iter().find(|st| &st.id == s) {
                node(&mut out, "    ", st);
            }
        }
        out.push_str("  end\n");
    }
    for st in m.stages.iter().filter(|st| !in_phase(&st.id)) {
        node(&mut out, "  ", st);
    }
    for f in &m.forks {
        let _ = writeln!(out, "  {}(( & ))", mermaid_id(f));
    }
    for e in &m.edges {
        let arrow = match e.kind {
            EdgeKind::Transition => "-->",
            EdgeKind::Spawn | EdgeKind::Skip => "-.->",
        };
        let (from, to) = (mermaid_id(&e.from), mermaid_id(&e.to));
        if e.label.is_empty() {
            let _ = writeln!(out, "  {from} {arrow} {to}");
        } else {
            let _ = writeln!(out, "  {from} {arrow}|\"{}\"| {to}", mermaid_text(&e.label));
        }
    }
    for st in &m.stages {
        if st.join || st.is_final {
            let class = if st.join { "join" } else { "final" };
            let _ = writeln!(out, "  class {} {class}", mermaid_id(&st.id));
        }
    }
    out.push_str("  classDef final stroke-width:3px\n  classDef join stroke-dasharray:4 2,stroke-width:3px\n");
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn dot(m: &Model) -> String {
    let mut out = String::from(
        "digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    let node = |out: &mut String,
                indent: &str,
                Node {
                    id,
                    title,
                    join,
                    is_final: fin,
                }: &Node| {
        let mut attrs = format!("label=\"{}\\n({})\"", dot_text(title), dot_text(id));
        if *join {
            attrs.push_str(", shape=box, style=\"rounded,bold\", peripheries=2, xlabel=\"join\"");
        } else if *fin {
            attrs.push_str(", peripheries=2");
        }
        let _ = writeln!(out, "{indent}\"{}\" [{attrs}];", dot_text(id));
    };
    let in_phase = |id: &str| m.phases.iter().any(|c| c.stages.iter().any(|s| s == id));
    for Cluster {
        id: pid,
        title: ptitle,
        stages,
    } in &m.phases
    {
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{}\" {{\n    label=\"{}\";\n    style=dashed;",
            dot_text(pid),
            dot_text(ptitle)
        );
        for s in stages {
            if let Some(st) = m.stages.iter().find(|st| &st.id == s) {
                node(&mut out, "    ", st);
            }
        }
        out.push_str("  }\n");
    }
    for st in m.stages.iter().filter(|st| !in_phase(&st.id)) {
        node(&mut out, "  ", st);
    }
    for f in &m.forks {
        let _ = writeln!(out, "  \"{f}\" [shape=point, width=0.15, label=\"\"];");
    }
    for e in &m.edges {
        let mut attrs = Vec::new();
        if !e.label.is_empty() {
            attrs.push(format!("label=\"{}\"", dot_text(&e.label)));
        }
        match e.kind {
            EdgeKind::Spawn => attrs.push("style=dashed".into()),
            EdgeKind::Skip => attrs.push("style=dotted".into()),
            EdgeKind::Transition => {}
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\"{attrs};",
            dot_text(&e.from),
            dot_text(&e.to)
        );
    }
    out.push_str("}\n");
    out
}

/// Fill colours of the phases, in order (stages outside every phase stay white).
const PHASE_COLORS: [&str; 6] = [
    "#dbeafe", "#fef3c7", "#dcfce7", "#fce7f3", "#ede9fe", "#e0f2fe",
];

fn svg_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The layout library could not draw the pipeline (it gives up on some graphs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline could not be laid out as a picture")]
pub struct LayoutFailed;

/// The pipeline as an SVG picture, laid out left to right: stages as boxes filled with the
/// colour of their phase (a legend names the phases), finals and joins with a thick border,
/// parallel splits through a small `&` point, spawns dashed, skips dotted.
fn svg(m: &Model, label: &str) -> Result<String, LayoutFailed> {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::geometry::Point;
    use layout::core::style::{LineStyleKind, StyleAttr};
    use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
    use layout::topo::layout::VisualGraph;

    let color = Color::fast;
    let phase_of = |id: &str| {
        m.phases
            .iter()
            .position(|c| c.stages.iter().any(|s| s == id))
    };
    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let mut handles = std::collections::HashMap::new();
    for Node {
        id,
        title,
        join,
        is_final: fin,
    } in &m.stages
    {
        let fill = phase_of(id).map_or("#ffffff", |p| PHASE_COLORS[p % PHASE_COLORS.len()]);
        let width = if *join || *fin { 4 } else { 1 };
        let look = StyleAttr::new(color("#334155"), width, Some(color(fill)), 8, 14);
        let mut label = title.clone();
        if *join {
            label.push_str(" ⋈");
        }
        let width = (label.chars().count() as f64 * 8.5 + 28.0).max(90.0);
        let node = Element::create(
            ShapeKind::new_box(&label),
            look,
            Orientation::LeftToRight,
            Point::new(width, 40.),
        );
        handles.insert(id.clone(), vg.add_node(node));
    }
    for f in &m.forks {
        let look = StyleAttr::new(color("#334155"), 1, Some(color("#334155")), 0, 10);
        let node = Element::create(
            ShapeKind::new_circle("&"),
            look,
            Orientation::LeftToRight,
            Point::new(14., 14.),
        );
        handles.insert(f.clone(), vg.add_node(node));
    }
    for e in &m.edges {
        let (Some(&from), Some(&to)) = (handles.get(&e.from), handles.get(&e.to)) else {
            continue;
        };
        let style = match e.kind {
            EdgeKind::Transition => LineStyleKind::Normal,
            EdgeKind::Spawn => LineStyleKind::Dashed,
            EdgeKind::Skip => LineStyleKind::Dotted,
        };
        let look = StyleAttr::new(color("#475569"), 1, None, 0, 11);
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &e.label,
            &look,
            &None,
            &None,
        );
        vg.add_edge(arrow, from, to);
    }
    if m.stages.is_empty() {
        return Ok(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"40\"><text x=\"10\" y=\"25\">no stages</text></svg>\n"
                .into(),
        );
    }
    // The layout library asserts on graphs it cannot draw: that must not take the caller down.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut svg = SVGWriter::new();
        vg.do_it(false, false, false, &mut svg);
        svg.finalize()
    }))
    .map_err(|_| LayoutFailed)?;
    let drawn = drawn.replace("Times, serif", "system-ui, sans-serif");
    // Size of the drawing, to put the legend of the phases above it.
    let number = |key: &str| -> f64 {
        drawn
            .find(key)
            .and_then(|i| drawn[i + key.len()..].split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (w, h) = (number("width=\""), number("height=\""));
    let legend = if m.phases.is_empty() { 0.0 } else { 34.0 };
    let body = drawn.find("<svg ").map_or(drawn.as_str(), |i| &drawn[i..]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"{label}\"><title>{label}</title>",
        h + legend,
        h + legend
    );
    let mut x = 8.0;
    for (
        i,
        Cluster {
            id: pid,
            title: ptitle,
            ..
        },
    ) in m.phases.iter().enumerate()
    {
        let fill = PHASE_COLORS[i % PHASE_COLORS.len()];
        let _ = writeln!(
            out,
            "<g class=\"phase\" data-phase=\"{}\"><rect x=\"{x}\" y=\"8\" width=\"16\" height=\"16\" rx=\"3\" fill=\"{fill}\" stroke=\"#334155\"/><text x=\"{}\" y=\"21\" font-family=\"system-ui, sans-serif\" font-size=\"13\">{}</text></g>",
            svg_text(pid),
            x + 22.0,
            svg_text(ptitle)
        );
        x += 40.0 + 8.0 * ptitle.chars().count() as f64;
    }
    let _ = writeln!(out, "<g transform=\"translate(0 {legend})\">");
    out.push_str(body);
    out.push_str("</g>\n</svg>\n");
    Ok(out)
}

/// Draws the file's pipeline as an SVG picture.
/// The picture's name is the pipeline's own title, in the language its author wrote it in.
pub fn render_svg(file: &File) -> Result<String, LayoutFailed> {
    let label = file
        .items
        .iter()
        .find_map(|i| match i {
            Item::Pipeline(p) => Some(title(&p.title)),
            _ => None,
        })
        .unwrap_or_default();
    svg(&model(file), &svg_text(&label))
}
