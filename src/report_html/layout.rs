//! A layered ("Sugiyama-style") layout of a dependency graph, left to right: dependencies in
//! the columns before their dependents.
//!
//! 1. Each node's column is its longest path from a node without dependencies.
//! 2. An edge that skips columns gets a virtual point in each column it crosses, so it is routed
//!    between the boxes of those columns instead of through them.
//! 3. Within a column, nodes are ordered by the mean position of their neighbours (barycentres),
//!    sweeping right and then left a few times; ties keep the previous order, which starts
//!    sorted by name, so the layout is a pure function of the graph.
//! 4. Columns are centred vertically; every edge becomes a polyline through its virtual points.

use std::collections::BTreeMap;

/// A box to place.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// Its width in pixels.
    pub width: f64,
    /// Its name: the tie-break of the ordering.
    pub name: String,
}

/// Where a box went: its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// The column.
    pub column: usize,
}

/// A laid-out graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
    /// Each node's place, in the input order.
    pub nodes: Vec<Placed>,
    /// Each edge (in the input order) as points from the dependency's right side to the
    /// dependent's left side.
    pub edges: Vec<Vec<(f64, f64)>>,
}

/// Every box's height.
pub const NODE_HEIGHT: f64 = 40.0;
/// Vertical space between boxes.
const ROW_GAP: f64 = 16.0;
/// Horizontal space between columns.
const COLUMN_GAP: f64 = 70.0;
/// Space around the drawing.
pub const MARGIN: f64 = 12.0;
/// Barycentre sweeps (each one rightwards and one leftwards).
const SWEEPS: usize = 4;

/// An entry of a column: a real node or an edge's virtual point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Node(usize),
    /// Edge index, and which of its virtual points.
    Virtual(usize, usize),
}

/// Lays out `nodes` with `edges` (dependency index, dependent index); the graph must be acyclic
/// (a dependency graph is). Edges to unknown indices are ignored.
pub fn layout(nodes: &[NodeBox], edges: &[(usize, usize)]) -> Layout {
    let count = nodes.len();
    let edges: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(from, to)| from < count && to < count && from != to)
        .collect();
    let columns_of = longest_path_columns(count, &edges);
    let column_count = columns_of.iter().copied().max().map_or(0, |c| c + 1);

    // Columns, each starting in name order.
    let mut columns: Vec<Vec<Slot>> = vec![Vec::new(); column_count];
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    for node in order {
        columns[columns_of[node]].push(Slot::Node(node));
    }
    // A chain of slots per edge: its dependency, its virtual points, its dependent.
    let mut chains: Vec<Vec<Slot>> = Vec::with_capacity(edges.len());
    for (index, &(from, to)) in edges.iter().enumerate() {
        let mut chain = vec![Slot::Node(from)];
        for (point, column) in (columns_of[from] + 1..columns_of[to]).enumerate() {
            columns[column].push(Slot::Virtual(index, point));
            chain.push(Slot::Virtual(index, point));
        }
        chain.push(Slot::Node(to));
        chains.push(chain);
    }
    // Neighbours of every slot in the previous and the next column.
    let mut before: BTreeMap<SlotKey, Vec<Slot>> = BTreeMap::new();
    let mut after: BTreeMap<SlotKey, Vec<Slot>> = BTreeMap::new();
    for chain in &chains {
        for pair in chain.windows(2) {
            after.entry(key(pair[0])).or_default().push(pair[1]);
            before.entry(key(pair[1])).or_default().push(pair[0]);
        }
    }
    for _ in 0..SWEEPS {
        for column in 1..column_count {
            reorder(&mut columns, column, column - 1, &before);
        }
        for column in (0..column_count.saturating_sub(1)).rev() {
            reorder(&mut columns, column, column + 1, &after);
        }
    }

    // Coordinates: column widths from their widest box; columns centred vertically.
    let widths: Vec<f64> = columns
        .iter()
        .map(|column| {
            column
                .iter()
                .map(|slot| match slot {
                    Slot::Node(node) => nodes[*node].width,
                    Slot::Virtual(..) => 0.0,
                })
                .fold(0.0, f64::max)
        })
        .collect();
    let heights: Vec<f64> = columns.iter().map(|column| column_height(column)).collect();
    let height = heights.iter().copied().fold(0.0, f64::max) + 2.0 * MARGIN;
    let mut lefts = Vec::with_capacity(column_count);
    let mut x = MARGIN;
    for width in &widths {
        lefts.push(x);
        x += width + COLUMN_GAP;
    }
    let width = (x - COLUMN_GAP + MARGIN).max(2.0 * MARGIN);
    let mut placed = vec![
        Placed {
            x: 0.0,
            y: 0.0,
            column: 0,
        };
        count
    ];
    // Virtual points by (edge, point): their (x, y).
    let mut points: BTreeMap<(usize, usize), (f64, f64)> = BTreeMap::new();
    for (column, slots) in columns.iter().enumerate() {
        let mut y = (height - heights[column]) / 2.0;
        for slot in slots {
            match *slot {
                Slot::Node(node) => {
                    // Boxes are left-aligned in their column.
                    placed[node] = Placed {
                        x: lefts[column],
                        y,
                        column,
                    };
                    y += NODE_HEIGHT + ROW_GAP;
                }
                Slot::Virtual(edge, point) => {
                    points.insert(
                        (edge, point),
                        (
                            lefts[column] + widths[column] / 2.0,
                            y + VIRTUAL_HEIGHT / 2.0,
                        ),
                    );
                    y += VIRTUAL_HEIGHT + ROW_GAP;
                }
            }
        }
    }
    let edges = chains
        .iter()
        .enumerate()
        .map(|(index, chain)| {
            let mut line = Vec::with_capacity(chain.len() + 2);
            for slot in chain {
                match *slot {
                    Slot::Node(node) if Slot::Node(node) == chain[0] => {
                        let box_ = placed[node];
                        line.push((box_.x + nodes[node].width, box_.y + NODE_HEIGHT / 2.0));
                    }
                    Slot::Node(node) => {
                        let box_ = placed[node];
                        line.push((box_.x, box_.y + NODE_HEIGHT / 2.0));
                    }
                    Slot::Virtual(edge, point) => {
                        let (px, py) = points[&(edge, point)];
                        let column_width = widths[placed[edges[index].0].column + 1 + point];
                        // Enter and leave the column level, so the line passes between boxes.
                        line.push((px - column_width / 2.0, py));
                        line.push((px + column_width / 2.0, py));
                    }
                }
            }
            line
        })
        .collect();
    Layout {
        width,
        height,
        nodes: placed,
        edges,
    }
}

/// A virtual point takes this much height in its column.
const VIRTUAL_HEIGHT: f64 = 4.0;

fn column_height(column: &[Slot]) -> f64 {
    let content: f64 = column
        .iter()
        .map(|slot| match slot {
            Slot::Node(_) => NODE_HEIGHT,
            Slot::Virtual(..) => VIRTUAL_HEIGHT,
        })
        .sum();
    content + ROW_GAP * column.len().saturating_sub(1) as f64
}

/// A slot as a map key.
type SlotKey = (u8, usize, usize);

fn key(slot: Slot) -> SlotKey {
    match slot {
        Slot::Node(node) => (0, node, 0),
        Slot::Virtual(edge, point) => (1, edge, point),
    }
}

/// Each node's column: its longest path from a node without dependencies.
fn longest_path_columns(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut column = vec![0usize; count];
    // Relax at most `count` times; an acyclic graph settles before that.
    for _ in 0..count {
        let mut changed = false;
        for &(from, to) in edges {
            if column[to] < column[from] + 1 {
                column[to] = column[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    column
}

/// Orders `columns[column]` by the mean position of each slot's neighbours in
/// `columns[reference]`; slots without neighbours keep their position; ties keep the order.
fn reorder(
    columns: &mut [Vec<Slot>],
    column: usize,
    reference: usize,
    neighbours: &BTreeMap<SlotKey, Vec<Slot>>,
) {
    let position: BTreeMap<SlotKey, usize> = columns[reference]
        .iter()
        .enumerate()
        .map(|(index, slot)| (key(*slot), index))
        .collect();
    let mut ranked: Vec<(f64, usize, Slot)> = columns[column]
        .iter()
        .enumerate()
        .map(|(index, slot)| {
            let around: Vec<usize> = neighbours
                .get(&key(*slot))
                .into_iter()
                .flatten()
                .filter_map(|neighbour| position.get(&key(*neighbour)).copied())
                .collect();
            let rank = if around.is_empty() {
                index as f64
            } else {
                around.iter().sum::<usize>() as f64 / around.len() as f64
            };
            (rank, index, *slot)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    columns[column] = ranked.into_iter().map(|(_, _, slot)| slot).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(names: &[&str]) -> Vec<NodeBox> {
        names
            .iter()
            .map(|name| NodeBox {
                width: 100.0,
                name: name.to_string(),
            })
            .collect()
    }

    #[test]
    fn dependencies_come_in_earlier_columns_and_boxes_never_overlap() {
        // clip → baseline → runs → figure, and clip → runs directly (skips a column).
        let nodes = boxes(&["clip", "baseline", "runs", "figure", "other"]);
        let edges = [(0, 1), (1, 2), (0, 2), (2, 3), (1, 3)];
        let laid = layout(&nodes, &edges);
        let columns: Vec<usize> = laid.nodes.iter().map(|p| p.column).collect();
        assert_eq!(columns, vec![0, 1, 2, 3, 0]);
        for &(from, to) in &edges {
            assert!(laid.nodes[from].x < laid.nodes[to].x);
        }
        for (a, first) in laid.nodes.iter().enumerate() {
            for second in &laid.nodes[a + 1..] {
                let apart = (first.x - second.x).abs() >= 100.0
                    || (first.y - second.y).abs() >= NODE_HEIGHT;
                assert!(apart, "{first:?} overlaps {second:?}");
            }
            assert!(first.x >= 0.0 && first.x + 100.0 <= laid.width);
            assert!(first.y >= 0.0 && first.y + NODE_HEIGHT <= laid.height);
        }
        // The skipping edge clip → runs passes column 1 at a virtual point: 2 ends + 2 points.
        assert_eq!(laid.edges[2].len(), 4);
        assert_eq!(laid.edges[0].len(), 2);
        // Deterministic.
        assert_eq!(laid, layout(&nodes, &edges));
    }

    #[test]
    fn barycentres_untangle_two_chains() {
        // a1 → b2 and a2 → b1: sorted by name the edges cross; ordered, they do not.
        let nodes = boxes(&["a1", "a2", "b1", "b2"]);
        let laid = layout(&nodes, &[(0, 3), (1, 2)]);
        let above = |x: usize, y: usize| laid.nodes[x].y < laid.nodes[y].y;
        assert_eq!(above(0, 1), above(3, 2));
    }

    #[test]
    fn an_empty_graph_has_a_size() {
        let laid = layout(&[], &[]);
        assert!(laid.width > 0.0 && laid.height > 0.0);
        assert!(laid.nodes.is_empty());
    }
}
