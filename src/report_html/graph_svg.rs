//! The dependency graph as an SVG: [`super::layout`] places the boxes, this draws them, each a
//! link to its section of the report, with curved arrows from dependencies to dependents.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::escape;
use super::layout::{NODE_HEIGHT, NodeBox, layout};
use super::model::GraphNode;

/// Pixels per character of the 13 px labels (DejaVu Sans averages about 0.6 em).
const CHARACTER_WIDTH: f64 = 7.6;
/// Padding inside a box, each side.
const PADDING: f64 = 10.0;

/// Draws `nodes` (their `deps` name other nodes).
pub fn draw(nodes: &[GraphNode]) -> String {
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name.as_str(), i))
        .collect();
    let boxes: Vec<NodeBox> = nodes
        .iter()
        .map(|node| NodeBox {
            width: node.name.chars().count().max(node.label.chars().count()) as f64
                * CHARACTER_WIDTH
                + 2.0 * PADDING,
            name: node.name.clone(),
        })
        .collect();
    let edges: Vec<(usize, usize)> = nodes
        .iter()
        .enumerate()
        .flat_map(|(to, node)| {
            node.deps
                .iter()
                .filter_map(|dep| index.get(dep.as_str()).map(|&from| (from, to)))
                .collect::<Vec<_>>()
        })
        .collect();
    let laid = layout(&boxes, &edges);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-label="dependency graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>"##,
        w = laid.width,
        h = laid.height
    );
    for line in &laid.edges {
        let _ = write!(
            svg,
            r##"<path class="edge" marker-end="url(#arrow)" d="{}"/>"##,
            smooth_path(line)
        );
    }
    for (node, placed) in nodes.iter().zip(&laid.nodes) {
        let class = match (node.requested, node.run) {
            (true, _) => "node requested",
            (false, true) => "node run",
            (false, false) => "node other",
        };
        let width = boxes[index[node.name.as_str()]].width;
        let _ = write!(
            svg,
            r##"<a href="#{anchor}" class="{class}"><title>{name} ({label})</title><rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{NODE_HEIGHT:.0}" rx="6"/><text x="{tx:.1}" y="{ty1:.1}" class="name">{name}</text><text x="{tx:.1}" y="{ty2:.1}" class="kind">{label}</text></a>"##,
            anchor = escape(&node.anchor),
            name = escape(&node.name),
            label = escape(&node.label),
            x = placed.x,
            y = placed.y,
            tx = placed.x + PADDING,
            ty1 = placed.y + 17.0,
            ty2 = placed.y + 33.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A path through `points` whose segments leave and enter horizontally (cubic Béziers).
fn smooth_path(points: &[(f64, f64)]) -> String {
    let mut path = String::new();
    if let Some(&(x, y)) = points.first() {
        let _ = write!(path, "M {x:.1} {y:.1}");
    }
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let bend = (x1 - x0) / 2.0;
        let _ = write!(
            path,
            " C {:.1} {y0:.1} {:.1} {y1:.1} {x1:.1} {y1:.1}",
            x0 + bend,
            x1 - bend
        );
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, deps: &[&str]) -> GraphNode {
        GraphNode {
            name: name.into(),
            label: "shell".into(),
            anchor: format!("target-{name}"),
            requested: name == "fig",
            run: false,
            deps: deps.iter().map(|d| d.to_string()).collect(),
            members: Vec::new(),
        }
    }

    #[test]
    fn every_node_is_a_link_and_every_dependency_an_arrow() {
        let nodes = vec![
            node("base", &[]),
            node("fig", &["base", "run<1>"]),
            node("run<1>", &["base"]),
        ];
        let svg = draw(&nodes);
        assert_eq!(svg.matches("<a href=").count(), 3);
        assert_eq!(svg.matches(r#"class="edge""#).count(), 3);
        assert!(svg.contains("href=\"#target-run&lt;1&gt;\""), "{svg}");
        assert!(svg.contains("node requested"));
        assert_eq!(svg, draw(&nodes));
    }
}
