//! `corrupt`: SIGKILL the target nodes and damage one data file of each;
//! they restart when the fault stops. Never more than a minority of the
//! nodes over a run unless `majority`.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use crate::nemesis::target::Target;
use faultline_platform::disk::{CorruptHow, Damage};

use super::kill::{kill, Down};

/// SIGKILL the target nodes and damage one data file of each (a file
/// matching the system's data patterns, or `files`); they restart when
/// the fault stops. Never more than a minority unless `majority`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corrupt {
    /// The nodes whose files are damaged.
    pub target: Target,
    /// Flip bits (the default) or truncate.
    #[serde(default, skip_serializing_if = "is_default")]
    pub how: CorruptHow,
    /// How many bits to flip (default 1).
    #[serde(default = "one_bit", skip_serializing_if = "is_one")]
    pub bits: u32,
    /// Draw the damage (the flipped bits, or the truncation point) in the
    /// last `last` bytes of the file's written part only (default: anywhere
    /// in the written part, which ends at its last non-zero byte): e.g. a
    /// WAL's newest records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u64>,
    /// Globs relative to the data directory (default: the system's data files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// Allow a majority of the nodes to be damaged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub majority: bool,
}

fn is_default(h: &CorruptHow) -> bool {
    *h == CorruptHow::default()
}

fn one_bit() -> u32 {
    1
}

fn is_one(b: &u32) -> bool {
    *b == 1
}

/// What `corrupt` records (a damaged node that then refuses to start is
/// recorded by the run as [`FaultEvent::CorruptExit`](crate::nemesis::FaultEvent)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum CorruptEvent {
    /// A data file of a node was damaged while it was down (a `restart`
    /// ends it).
    Corrupt(Damage),
}

/// The nodes damaged so far in the run.
#[derive(Debug, Default)]
struct Damaged(Vec<usize>);

impl FaultKind for Corrupt {
    const ABOUT: About = About {
        name: "corrupt",
        help: "flip a bit in (or truncate) one data file of one node while it is down (the system's data files, see faultline list; `last = N`: only in its last N written bytes), restart it",
        example: r#"{ do = "corrupt", target = "follower", how = "truncate", last = 4096 }"#,
        family: None,
        in_all: false,
        disk_layer: false,
        firewall: false,
        min_nodes: 1,
    };
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, rng| Corrupt {
        target: Target::Nodes(vec![rng.gen_range(0..draw.nodes)]),
        how: Default::default(),
        bits: 1,
        last: None,
        files: None,
        majority: false,
    });

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let named = ex.resolve(&self.target).await;
        let n = ex.nodes().len();
        let damaged = &mut ex.memory::<Damaged>().0;
        let targets = if self.majority {
            named.clone()
        } else {
            within_minority(&named, damaged, n)
        };
        if targets.len() < named.len() {
            tracing::info!(
                "corrupt: {} nodes named, damaging {} (at most a minority over the run; `majority = true` allows more)",
                named.len(),
                targets.len()
            );
        }
        let Some(&first) = targets.first() else {
            return Ok(None);
        };
        for &i in &targets {
            if !damaged.contains(&i) {
                damaged.push(i);
            }
        }
        ex.set_previous(first);
        let patterns = self
            .files
            .clone()
            .unwrap_or_else(|| ex.probe().data_files());
        kill(&mut *ex.platform(), &targets)?;
        for &i in &targets {
            let seed = ex.rng().gen();
            let damage = ex
                .platform()
                .corrupt(i, &patterns, self.how, self.bits, self.last, seed)?;
            ex.record(&CorruptEvent::Corrupt(damage));
        }
        Ok(Some(Box::new(Down::new("corrupt", targets))))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        let CorruptEvent::Corrupt(d) = from_parts(f, value)?;
        let what = match (&d.file, d.truncated) {
            (None, _) => "no data file to damage".to_string(),
            (Some(file), Some([from, to])) => format!("{file} truncated {from} -> {to} bytes"),
            (Some(file), None) => {
                let flips: Vec<String> = d
                    .flips
                    .iter()
                    .map(|x| format!("bit {} of byte {}", x.bit, x.offset))
                    .collect();
                format!("{file}: {}", flips.join(", "))
            }
        };
        let label = format!("corrupt {}: {what}", d.node);
        Some(Reading::opens("corrupt", label, vec![d.node], &["restart"]))
    }
}

/// Those of `named` that can be damaged while the nodes damaged over the
/// run (`damaged`) plus them stay a minority of `n` (one node of a cluster
/// of one or two): nodes already damaged always can be.
fn within_minority(named: &[usize], damaged: &[usize], n: usize) -> Vec<usize> {
    let bound = ((n - 1) / 2).max(1);
    let mut all = damaged.to_vec();
    let mut out = Vec::new();
    for &i in named {
        if all.contains(&i) {
            out.push(i);
        } else if all.len() < bound {
            all.push(i);
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::within_minority;

    #[test]
    fn damage_stays_within_a_minority_over_the_run() {
        assert_eq!(
            within_minority(&[0, 1, 2, 3, 4], &[], 5),
            vec![0, 1],
            "two of five at most"
        );
        assert_eq!(within_minority(&[3, 1], &[1, 2], 5), vec![1]);
    }
}
