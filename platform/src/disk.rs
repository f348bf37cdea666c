//! Disk faults: the faultline-diskfs layer mounted over each node's data
//! directory (power loss: lose what was not fsynced), and file corruption
//! (flipped bits, truncation) of a node that is down.
//!
//! With the layer, node `i`'s files really live in its *backing* directory
//! (`data/n1/` in the run folder, where they stay after the run) and the
//! node is given the mount (`mnt/n1/`) as its data directory. The mounts
//! live in the run's private mount namespace (see [`crate::netns`]): the
//! host never sees them, and they vanish with the namespace however the run
//! ends. Corruption needs no layer: it damages the files of a node that is
//! down, through the mount when there is one (so the layer counts the damage
//! as on disk, i.e. durable) or directly otherwise.

use std::path::{Path, PathBuf};

use faultline_diskfs::corrupt::{flip_bits, truncate_within, BitFlip, Truncation};
use faultline_diskfs::{DiskFs, MetadataMode, MountHandle, PowerLossOptions, PowerLossReport};
use globset::{Glob, GlobSetBuilder};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::node::NodeSpec;

/// Errors of the disk-fault layer and of corruption.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The layer refused (mounting, unmounting, a backing file).
    #[error("disk layer of {node}: {source}")]
    Layer {
        /// The node's name.
        node: String,
        /// What the layer said.
        source: faultline_diskfs::Error,
    },
    /// A power loss was asked for where no layer is mounted.
    #[error("power loss on {node}: the disk layer is not mounted (run with a power-loss fault, or --disk-faults)")]
    NoLayer {
        /// The node's name.
        node: String,
    },
    /// A `files` pattern does not parse.
    #[error("corrupt: bad file pattern {pattern:?}: {message}")]
    Pattern {
        /// The pattern given.
        pattern: String,
        /// Why it does not parse.
        message: String,
    },
    /// Listing the node's data directory failed.
    #[error("corrupt: listing {}: {source}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// How the layer is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DiskSettings {
    /// When creates, renames and unlinks become durable.
    pub metadata: MetadataMode,
    /// Let processes of other users and groups use the mounts (needed when
    /// nodes run under group ids of their own; FUSE refuses them otherwise).
    pub allow_other: bool,
}

/// Points each node's data directory at its mount (`dir/mnt/nX`) and keeps
/// the real files in `dir/data/nX` (the backing directory).
pub fn place_layers(specs: &mut [NodeSpec], dir: &Path) {
    for s in specs {
        let backing = std::mem::replace(&mut s.data_dir, dir.join("mnt").join(&s.name));
        s.backing_dir = Some(backing);
    }
}

struct Layer {
    fs: DiskFs,
    mountpoint: PathBuf,
    mount: Option<MountHandle>,
}

/// The mounted layers of a cluster, one per node (by index).
pub struct Disks {
    names: Vec<String>,
    layers: Vec<Layer>,
}

impl Disks {
    /// Mounts a layer over every node's backing directory at its data
    /// directory (both are created). Nodes without a backing directory get
    /// none.
    pub fn mount(specs: &[NodeSpec], settings: DiskSettings) -> Result<Disks, DiskError> {
        let mut layers = Vec::new();
        for s in specs {
            let Some(backing) = &s.backing_dir else {
                continue;
            };
            let err = |source| DiskError::Layer {
                node: s.name.clone(),
                source,
            };
            for d in [backing, &s.data_dir] {
                std::fs::create_dir_all(d).map_err(|source| {
                    err(faultline_diskfs::Error::Io {
                        what: "creating",
                        path: d.clone(),
                        source,
                    })
                })?;
            }
            let fs = DiskFs::new(
                backing,
                faultline_diskfs::Options {
                    metadata: settings.metadata,
                    allow_other: settings.allow_other,
                },
            )
            .map_err(err)?;
            let mount = fs.mount(&s.data_dir).map_err(err)?;
            layers.push(Layer {
                fs,
                mountpoint: s.data_dir.clone(),
                mount: Some(mount),
            });
        }
        Ok(Disks {
            names: specs.iter().map(|s| s.name.clone()).collect(),
            layers,
        })
    }

    /// Returns node `i`'s files to their durable state: unmounts its layer
    /// (dropping every cached page), loses what was not synced, mounts it
    /// again. The node must be down.
    pub fn power_loss(
        &mut self,
        i: usize,
        options: PowerLossOptions,
    ) -> Result<PowerLossReport, DiskError> {
        let node = self.names[i].clone();
        let Some(layer) = self.layers.get_mut(i) else {
            return Err(DiskError::NoLayer { node });
        };
        let err = |source| DiskError::Layer {
            node: node.clone(),
            source,
        };
        if let Some(m) = layer.mount.take() {
            m.unmount().map_err(err)?;
        }
        let report = layer.fs.power_loss(options);
        layer.mount = Some(layer.fs.mount(&layer.mountpoint).map_err(err)?);
        Ok(report)
    }

    /// Unmounts every layer (the nodes must be down). Dropping does it too.
    pub fn unmount_all(&mut self) {
        for (l, name) in self.layers.iter_mut().zip(&self.names) {
            if let Some(m) = l.mount.take() {
                if let Err(e) = m.unmount() {
                    tracing::warn!(node = %name, "unmounting the disk layer: {e}");
                }
            }
        }
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        self.unmount_all();
    }
}

/// What `corrupt` does to the chosen file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorruptHow {
    /// Flip `bits` random bits.
    #[default]
    BitFlip,
    /// Cut the file at a random offset in its written part (up to its last
    /// non-zero byte, not in the zeros it was preallocated with): at least
    /// one written byte is lost.
    Truncate,
}

/// One flipped bit, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flip {
    /// Byte offset in the file.
    pub offset: u64,
    /// Bit in that byte (0 = least significant).
    pub bit: u8,
}

/// What `corrupt` did to one node, as the history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damage {
    /// The node.
    pub node: String,
    /// The damaged file, relative to the node's data directory (none when
    /// no file matched).
    #[serde(default)]
    pub file: Option<String>,
    /// How many files matched the patterns (the file was drawn among them).
    pub candidates: usize,
    /// The bits flipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flips: Vec<Flip>,
    /// The truncation: sizes before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<[u64; 2]>,
}

/// Damages one file of `node`'s data directory (the node down) matching
/// `patterns` (globs relative to it), drawn with every other choice from
/// `seed`: `bits` flipped bits, or a truncation, drawn in the file's written
/// part (up to its last non-zero byte), or only in its last `last` bytes.
/// Empty files are never chosen.
pub fn corrupt(
    node: &NodeSpec,
    patterns: &[String],
    how: CorruptHow,
    bits: u32,
    last: Option<u64>,
    seed: u64,
) -> Result<Damage, DiskError> {
    let (data_dir, node) = (&node.data_dir, node.name.as_str());
    let files = matching_files(data_dir, patterns)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut damage = Damage {
        node: node.to_string(),
        file: None,
        candidates: files.len(),
        flips: Vec::new(),
        truncated: None,
    };
    let Some((rel, _)) = files.choose(&mut rng).cloned() else {
        return Ok(damage);
    };
    let path = data_dir.join(&rel);
    let err = |source| DiskError::Layer {
        node: node.to_string(),
        source,
    };
    match how {
        CorruptHow::BitFlip => {
            let flips: Vec<BitFlip> =
                flip_bits(&path, bits.max(1) as usize, last, rng.gen()).map_err(err)?;
            damage.flips = flips
                .into_iter()
                .map(|f| Flip {
                    offset: f.offset,
                    bit: f.bit,
                })
                .collect();
        }
        CorruptHow::Truncate => {
            let t: Truncation = truncate_within(&path, last, rng.gen()).map_err(err)?;
            damage.truncated = Some([t.from, t.to]);
        }
    }
    damage.file = Some(rel);
    Ok(damage)
}

/// The non-empty regular files under `dir` whose path relative to it
/// matches one of `patterns`, sorted, with their sizes.
pub fn matching_files(dir: &Path, patterns: &[String]) -> Result<Vec<(String, u64)>, DiskError> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| DiskError::Pattern {
            pattern: p.clone(),
            message: e.to_string(),
        })?;
        set.add(glob);
    }
    let set = set.build().map_err(|e| DiskError::Pattern {
        pattern: patterns.join(" "),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| DiskError::List {
            path: d.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            let path = e.path();
            if meta.is_dir() {
                if e.file_name() != faultline_diskfs::GRAVEYARD {
                    todo.push(path);
                }
            } else if meta.is_file() && meta.len() > 0 {
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                if set.is_match(&rel) {
                    out.push((rel.display().to_string(), meta.len()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, dir: &Path) -> NodeSpec {
        let mut s = crate::node::layout(1, dir, false).remove(0);
        s.name = name.into();
        s.data_dir = dir.to_path_buf();
        s
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("wal")).unwrap();
        std::fs::create_dir_all(t.path().join("snap")).unwrap();
        std::fs::write(t.path().join("wal/1.log"), vec![0u8; 64]).unwrap();
        std::fs::write(t.path().join("wal/2.log"), vec![0u8; 64]).unwrap();
        std::fs::write(t.path().join("wal/empty.log"), b"").unwrap();
        std::fs::write(t.path().join("snap/5.snap"), vec![7u8; 16]).unwrap();
        std::fs::write(t.path().join("LOCK"), b"x").unwrap();
        t
    }

    #[test]
    fn patterns_match_relative_paths_and_skip_empty_files() {
        let t = tree();
        let files = matching_files(t.path(), &["wal/*.log".into()]).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["wal/1.log", "wal/2.log"]);
        let all = matching_files(t.path(), &["**".into()]).unwrap();
        assert_eq!(all.len(), 4);
        let err = matching_files(t.path(), &["wal/[".into()]).unwrap_err();
        assert!(err.to_string().contains("wal/["), "{err}");
    }

    #[test]
    fn corruption_is_seeded_and_says_what_it_did() {
        let (a, b) = (tree(), tree());
        let pats = ["wal/*.log".to_string(), "snap/*".to_string()];
        let da = corrupt(
            &spec("n1", a.path()),
            &pats,
            CorruptHow::BitFlip,
            3,
            None,
            9,
        )
        .unwrap();
        let db = corrupt(
            &spec("n1", b.path()),
            &pats,
            CorruptHow::BitFlip,
            3,
            None,
            9,
        )
        .unwrap();
        assert_eq!(da, db);
        assert_eq!(da.candidates, 3);
        assert_eq!(da.flips.len(), 3);
        let file = da.file.clone().unwrap();
        let bytes = std::fs::read(a.path().join(&file)).unwrap();
        let fresh = std::fs::read(tree().path().join(&file)).unwrap();
        let changed = bytes.iter().zip(&fresh).filter(|(x, y)| x != y).count();
        assert!((1..=3).contains(&changed), "{changed} bytes changed");

        let t = corrupt(
            &spec("n2", a.path()),
            &pats,
            CorruptHow::Truncate,
            1,
            None,
            4,
        )
        .unwrap();
        let [from, to] = t.truncated.unwrap();
        assert!(to < from);
        let len = std::fs::metadata(a.path().join(t.file.unwrap()))
            .unwrap()
            .len();
        assert_eq!(len, to);

        let none = corrupt(
            &spec("n3", a.path()),
            &["nothing/*".into()],
            CorruptHow::BitFlip,
            1,
            None,
            1,
        )
        .unwrap();
        assert_eq!((none.file, none.candidates), (None, 0));
    }

    /// A WAL segment as faultline-node leaves it: records, then the zeros it
    /// was grown with.
    fn segment(dir: &Path) -> Vec<u8> {
        let mut data: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8 + 1).collect();
        data.resize(512 << 10, 0);
        std::fs::create_dir_all(dir.join("wal")).unwrap();
        std::fs::write(dir.join("wal/1.log"), &data).unwrap();
        data
    }

    #[test]
    fn last_draws_the_damage_in_the_last_bytes_of_the_written_part() {
        let pats = ["wal/*.log".to_string()];
        for seed in 0..20 {
            let t = tempfile::tempdir().unwrap();
            let fresh = segment(t.path());
            let d = corrupt(
                &spec("n1", t.path()),
                &pats,
                CorruptHow::Truncate,
                1,
                Some(100),
                seed,
            )
            .unwrap();
            let [from, to] = d.truncated.unwrap();
            assert_eq!(from, 512 << 10);
            assert!((3900..4000).contains(&to), "seed {seed}: cut at {to}");

            let fresh_len = fresh.len();
            segment(t.path());
            let d = corrupt(
                &spec("n1", t.path()),
                &pats,
                CorruptHow::BitFlip,
                3,
                Some(100),
                seed,
            )
            .unwrap();
            assert_eq!(d.flips.len(), 3);
            for f in &d.flips {
                assert!((3900..4000).contains(&f.offset), "seed {seed}: {f:?}");
            }
            let bytes = std::fs::read(t.path().join("wal/1.log")).unwrap();
            assert_eq!(bytes.len(), fresh_len);
            assert_eq!(bytes[..3900], fresh[..3900]);
        }
    }

    #[test]
    fn truncation_never_lands_in_the_preallocated_zeros() {
        let pats = ["wal/*.log".to_string()];
        for seed in 0..20 {
            let t = tempfile::tempdir().unwrap();
            segment(t.path());
            let d = corrupt(
                &spec("n1", t.path()),
                &pats,
                CorruptHow::Truncate,
                1,
                None,
                seed,
            )
            .unwrap();
            let [_, to] = d.truncated.unwrap();
            assert!(to < 4000, "seed {seed}: cut at {to}, in the zeros");
        }
    }
}
