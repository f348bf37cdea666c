//! Explaining a linearizability failure: the shortest prefix of the key's
//! history that cannot be linearized, the operation whose completion breaks
//! it, the operations concurrent with it, and the states the longest
//! linearizable orders reach just before it.
//!
//! All of it comes from where the search got furthest (see
//! [`crate::linear::Stuck`]): every operation that completed before the
//! failing one can be linearized (the stuck configurations do it), and no
//! order of the operations up to the failing one's completion can, taking
//! into account what the whole history says of each operation's outcome.
//! Operations still pending there may or may not have taken effect.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::{key_name, Operation};
use crate::linear::Stuck;
use crate::model::Model;

/// The longest linearizable orders, as shown to a person.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Linearization {
    /// The last operations of the order (up to 8), oldest first.
    #[serde(default)]
    pub tail: Vec<Operation>,
    /// Operations placed before `tail` and not shown.
    #[serde(default)]
    pub elided: usize,
    /// The state after the order.
    #[serde(default)]
    pub state: Value,
}

/// Why one key's history is not linearizable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counterexample {
    /// The key (None: the single register).
    #[serde(default)]
    pub key: Option<String>,
    /// The operation that cannot be placed: its completion ends the shortest
    /// failing prefix.
    pub operation: Operation,
    /// History index where the shortest failing prefix ends.
    #[serde(default)]
    pub prefix_end_index: u64,
    /// Operations of the key in that prefix.
    #[serde(default)]
    pub prefix_operations: usize,
    /// Operations whose intervals overlap the failing one's.
    #[serde(default)]
    pub concurrent: Vec<Operation>,
    /// How many operations the longest linearizable orders placed.
    #[serde(default)]
    pub linearized: usize,
    /// The longest linearizable orders found (distinct end states).
    #[serde(default)]
    pub longest: Vec<Linearization>,
    /// Why no state could admit the operation, when that is known without
    /// a search (e.g. it saw a value nothing wrote); `longest` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impossible: Option<String>,
}

impl Counterexample {
    /// A few lines for the terminal, Knossos-style.
    pub fn render_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "key {}: not linearizable; the history up to index {} ({} operations) already fails",
                key_name(&self.key),
                self.prefix_end_index,
                self.prefix_operations,
            ),
            format!("cannot place: {}", describe_at(&self.operation)),
        ];
        if !self.concurrent.is_empty() {
            lines.push("concurrent with it:".to_string());
            for op in self.concurrent.iter().take(12) {
                lines.push(format!("  {}", describe_at(op)));
            }
            if self.concurrent.len() > 12 {
                lines.push(format!("  ... and {} more", self.concurrent.len() - 12));
            }
        }
        if let Some(why) = &self.impossible {
            lines.push(format!("no state admits it: {why}"));
            return lines;
        }
        lines.push(format!(
            "the longest linearizable orders place {} operations and end in:",
            self.linearized
        ));
        for l in &self.longest {
            let tail: Vec<String> = l.tail.iter().map(Operation::describe).collect();
            let elided = if l.elided > 0 {
                format!("... {} earlier, ", l.elided)
            } else {
                String::new()
            };
            lines.push(format!(
                "  state {}  after {}{}",
                l.state,
                elided,
                tail.join(", ")
            ));
        }
        let states: Vec<String> = self.longest.iter().map(|l| l.state.to_string()).collect();
        lines.push(format!(
            "from state{} {}, {} is impossible",
            if states.len() == 1 { "" } else { "s" },
            states.join(" or "),
            self.operation.describe()
        ));
        lines
    }
}

fn describe_at(op: &Operation) -> String {
    let end = op
        .complete_index
        .map(|c| c.to_string())
        .unwrap_or_else(|| "∞".to_string());
    format!("{}   [index {}..{}]", op.describe(), op.invoke_index, end)
}

/// Builds the counterexample for a key from where its search got stuck.
/// `ops` are the key's operations, `source` maps the search's operations to
/// them (see [`crate::prepare::Prepared`]).
pub fn build<M: Model>(
    model: &M,
    key: Option<String>,
    ops: &[&Operation],
    source: &[usize],
    stuck: &Stuck<M::State>,
) -> Counterexample {
    let operation = ops[source[stuck.op]].clone();
    let end = operation.complete_index.unwrap_or(u64::MAX);
    let prefix_operations = ops.iter().filter(|o| o.invoke_index <= end).count();
    let concurrent = ops
        .iter()
        .filter(|o| o.id != operation.id)
        .filter(|o| {
            o.invoke_index < end && o.complete_index.is_none_or(|c| c > operation.invoke_index)
        })
        .map(|o| (*o).clone())
        .collect();
    let linearized = stuck.paths.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
    let longest = stuck
        .paths
        .iter()
        .map(|(path, state)| {
            let shown = path.len().min(8);
            Linearization {
                tail: path[path.len() - shown..]
                    .iter()
                    .map(|&i| ops[source[i]].clone())
                    .collect(),
                elided: path.len() - shown,
                state: model.render_state(state),
            }
        })
        .collect();
    Counterexample {
        key,
        operation,
        prefix_end_index: end,
        prefix_operations,
        concurrent,
        linearized,
        longest,
        impossible: None,
    }
}
