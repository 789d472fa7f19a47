//! A dependency queue (after cargo's `dependency_queue.rs`): targets become ready when their
//! dependencies finish; among ready targets the one heading the most expensive chain of work
//! goes first (priority = own cost + the highest priority among its dependents), so long
//! chains start early and `-j` stays busy.

use std::collections::{BinaryHeap, HashMap};

use crate::graph::TargetId;

struct Node {
    cost: u64,
    deps: Vec<TargetId>,
    waiting_on: usize,
    dependents: Vec<TargetId>,
    priority: u64,
}

/// The queue.
#[derive(Default)]
pub struct DependencyQueue {
    nodes: HashMap<TargetId, Node>,
    ready: BinaryHeap<(u64, std::cmp::Reverse<TargetId>)>,
}

impl DependencyQueue {
    /// An empty queue.
    pub fn new() -> DependencyQueue {
        DependencyQueue::default()
    }

    /// Adds `id`, which waits for `deps` (all of which must also be pushed).
    pub fn push(&mut self, id: TargetId, cost: u64, deps: &[TargetId]) {
        self.nodes.insert(
            id,
            Node {
                cost,
                deps: deps.to_vec(),
                waiting_on: deps.len(),
                dependents: Vec::new(),
                priority: 0,
            },
        );
    }

    /// Links dependents and computes priorities; call once after every push.
    pub fn prioritise(&mut self) {
        let mut links = Vec::new();
        for (&id, node) in &self.nodes {
            for &dep in &node.deps {
                links.push((dep, id));
            }
        }
        for (dep, id) in links {
            if let Some(node) = self.nodes.get_mut(&dep) {
                node.dependents.push(id);
            }
        }
        let mut ids: Vec<TargetId> = self.nodes.keys().copied().collect();
        ids.sort_unstable();
        let mut memo: HashMap<TargetId, u64> = HashMap::new();
        for &id in &ids {
            self.priority_of(id, &mut memo);
        }
        for (id, priority) in memo {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.priority = priority;
            }
        }
        for &id in &ids {
            let node = &self.nodes[&id];
            if node.waiting_on == 0 {
                self.ready.push((node.priority, std::cmp::Reverse(id)));
            }
        }
    }

    fn priority_of(&self, root: TargetId, memo: &mut HashMap<TargetId, u64>) -> u64 {
        // Iterative post-order, so deep chains cannot overflow the stack.
        let mut stack = vec![(root, false)];
        while let Some((id, expanded)) = stack.pop() {
            if memo.contains_key(&id) {
                continue;
            }
            let node = &self.nodes[&id];
            if expanded {
                let downstream = node
                    .dependents
                    .iter()
                    .map(|d| memo.get(d).copied().unwrap_or(0))
                    .max()
                    .unwrap_or(0);
                memo.insert(id, node.cost.saturating_add(downstream));
            } else {
                stack.push((id, true));
                for &d in &node.dependents {
                    if !memo.contains_key(&d) {
                        stack.push((d, false));
                    }
                }
            }
        }
        memo[&root]
    }

    /// The ready target with the highest priority.
    pub fn pop_ready(&mut self) -> Option<TargetId> {
        self.ready.pop().map(|(_, std::cmp::Reverse(id))| id)
    }

    /// Marks `id` done; its dependents may become ready.
    pub fn finish(&mut self, id: TargetId) {
        let Some(node) = self.nodes.remove(&id) else {
            return;
        };
        for dependent in node.dependents {
            if let Some(d) = self.nodes.get_mut(&dependent) {
                d.waiting_on -= 1;
                if d.waiting_on == 0 {
                    self.ready.push((d.priority, std::cmp::Reverse(dependent)));
                }
            }
        }
    }

    /// Marks `id` failed and removes everything downstream, which is returned (sorted).
    pub fn fail(&mut self, id: TargetId) -> Vec<TargetId> {
        let mut removed = Vec::new();
        let mut stack = match self.nodes.remove(&id) {
            Some(node) => node.dependents,
            None => Vec::new(),
        };
        while let Some(dependent) = stack.pop() {
            if let Some(node) = self.nodes.remove(&dependent) {
                removed.push(dependent);
                stack.extend(node.dependents);
            }
        }
        removed.sort_unstable();
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_chain_first_and_failure_skips_downstream() {
        // 0 → 1 → 2 (a chain), 3 alone; 4 depends on 3.
        let mut queue = DependencyQueue::new();
        queue.push(0, 1, &[]);
        queue.push(1, 1, &[0]);
        queue.push(2, 1, &[1]);
        queue.push(3, 1, &[]);
        queue.push(4, 1, &[3]);
        queue.prioritise();
        assert_eq!(queue.pop_ready(), Some(0));
        assert_eq!(queue.pop_ready(), Some(3));
        assert_eq!(queue.pop_ready(), None);
        assert_eq!(queue.fail(3), vec![4]);
        queue.finish(0);
        assert_eq!(queue.pop_ready(), Some(1));
        queue.finish(1);
        assert_eq!(queue.pop_ready(), Some(2));
    }
}
