//! Reading histories: faultline's JSON Lines and the formats other tools write
//! (Jepsen's `history.edn`, Jepsen's logger lines, Porcupine's KV EDN lines).
//! Every error names the file, the line and what was wrong.

pub mod edn;
mod edn_lines;
mod jepsen_log;
mod jsonl;

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::history::{Event, HistoryError, Operation, Pairer};

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decide from the first non-empty line.
    Auto,
    /// faultline's JSON Lines (docs/history.md).
    Jsonl,
    /// One EDN map per line: Jepsen's `history.edn` and Porcupine's KV histories.
    Edn,
    /// Jepsen's logger lines (`INFO  jepsen.util - 3 :invoke :cas [1 4]`).
    JepsenLog,
}

impl Format {
    /// Every format with its command-line name.
    pub const ALL: [(Format, &'static str); 4] = [
        (Format::Auto, "auto"),
        (Format::Jsonl, "jsonl"),
        (Format::Edn, "edn"),
        (Format::JepsenLog, "jepsen-log"),
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
            .unwrap_or("auto")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown format {s:?}; known: {}", names.join(", "))
            })
    }
}

/// How lenient to be.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Drop a last line that was cut off mid-write (no final newline and not
    /// parseable), as a crashed recorder leaves it, instead of failing.
    pub allow_truncated: bool,
}

/// A history read from a file.
#[derive(Debug, Clone, Default)]
pub struct ImportedHistory {
    /// The events, in file order, with `index` set to their position when
    /// the format has none.
    pub events: Vec<Event>,
    /// `lines[i]` is the 1-based source line of `events[i]`.
    pub lines: Vec<usize>,
    /// The format that was read.
    pub format: Option<Format>,
    /// Things worth telling the user that did not stop the import.
    pub warnings: Vec<String>,
}

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The history file that could not be read.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line could not be understood.
    #[error("{}:{line}: {message}", file.display())]
    Line {
        /// The history file holding the line.
        file: PathBuf,
        /// 1-based line number of the line in error.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// The file holds no event (empty, or blank lines only).
    #[error("{}: the history is empty", file.display())]
    Empty {
        /// The empty history file.
        file: PathBuf,
    },
}

/// A parse failure on one line, before the file name is attached.
pub(crate) struct LineError {
    pub line: usize,
    pub message: String,
}

impl LineError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        LineError {
            line,
            message: message.into(),
        }
    }
}

/// Reads a history file.
pub fn read_history_file(path: &Path, format: Format) -> Result<ImportedHistory, ImportError> {
    read_history_file_with(path, format, ImportOptions::default())
}

/// Reads a history file with options.
pub fn read_history_file_with(
    path: &Path,
    format: Format,
    opts: ImportOptions,
) -> Result<ImportedHistory, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_history_str(&text, path, format, opts)
}

/// Reads a history from text; `path` is only used in messages.
pub fn read_history_str(
    text: &str,
    path: &Path,
    format: Format,
    opts: ImportOptions,
) -> Result<ImportedHistory, ImportError> {
    let line_err = |e: LineError| ImportError::Line {
        file: path.to_path_buf(),
        line: e.line,
        message: e.message,
    };
    let format = match format {
        Format::Auto => detect(text).ok_or_else(|| ImportError::Empty {
            file: path.to_path_buf(),
        })?,
        f => f,
    };
    let (body, truncated) = split_torn_tail(text, format, opts.allow_truncated);
    let mut history = match format {
        Format::Jsonl => jsonl::parse(body),
        Format::Edn => edn_lines::parse(body),
        Format::JepsenLog => jepsen_log::parse(body),
        Format::Auto => unreachable!("resolved above"),
    }
    .map_err(line_err)?;
    if let Some(line) = truncated {
        history.warnings.push(format!(
            "{}:{line}: dropped a last line cut off mid-write",
            path.display()
        ));
    }
    history.format = Some(format);
    Ok(history)
}

/// Operations read from a history file, paired as they were read.
#[derive(Debug, Default)]
pub struct ReadOperations {
    /// The operations, in invocation order.
    pub operations: Vec<Operation>,
    /// Events read (nemesis events included).
    pub events: usize,
    /// The latest event time (ns).
    pub last_time: u64,
    /// The format that was read.
    pub format: Option<Format>,
    /// Things worth telling the user that did not stop the import.
    pub warnings: Vec<String>,
}

/// Why a history file could not be read into operations.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Its events do not pair up.
    #[error("{}: {source}", file.display())]
    Pairing {
        /// The history file.
        file: PathBuf,
        /// The broken pairing rule, with its line.
        source: HistoryError,
    },
}

/// Reads a history file straight into paired operations. JSON Lines are
/// streamed: each event is parsed, paired and dropped, so memory holds the
/// operations and never the file or its events (1,000,000 events take about
/// as much as their 500,000 operations). Other formats are read whole first.
pub fn read_operations_file(
    path: &Path,
    format: Format,
    opts: ImportOptions,
) -> Result<ReadOperations, ReadError> {
    let io = |source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    };
    let format = match format {
        Format::Auto => {
            let mut first = String::new();
            let mut src = BufReader::new(File::open(path).map_err(io)?);
            while first.trim().is_empty() {
                first.clear();
                if src.read_line(&mut first).map_err(io)? == 0 {
                    break;
                }
            }
            detect(&first).ok_or_else(|| ImportError::Empty {
                file: path.to_path_buf(),
            })?
        }
        f => f,
    };
    let pairing = |source| ReadError::Pairing {
        file: path.to_path_buf(),
        source,
    };
    if format != Format::Jsonl {
        let h = read_history_file_with(path, format, opts)?;
        let mut pairer = Pairer::strict();
        for (ev, &line) in h.events.iter().zip(&h.lines) {
            pairer.push(ev, line).map_err(pairing)?;
        }
        return Ok(ReadOperations {
            events: h.events.len(),
            last_time: h.events.iter().map(|e| e.time).max().unwrap_or(0),
            operations: pairer.operations(),
            format: Some(format),
            warnings: h.warnings,
        });
    }
    let file = File::open(path).map_err(io)?;
    let mut reader = jsonl::Reader::new(
        BufReader::with_capacity(1 << 16, file),
        opts.allow_truncated,
    );
    let mut pairer = Pairer::strict();
    let mut out = ReadOperations {
        format: Some(Format::Jsonl),
        ..ReadOperations::default()
    };
    for item in reader.by_ref() {
        let (line, ev) = item.map_err(|e| ImportError::Line {
            file: path.to_path_buf(),
            line: e.line,
            message: e.message,
        })?;
        out.events += 1;
        out.last_time = out.last_time.max(ev.time);
        pairer.push(&ev, line).map_err(pairing)?;
    }
    if out.events == 0 {
        return Err(ImportError::Empty {
            file: path.to_path_buf(),
        }
        .into());
    }
    if let Some(line) = reader.truncated {
        out.warnings.push(format!(
            "{}:{line}: dropped a last line cut off mid-write",
            path.display()
        ));
    }
    out.operations = pairer.operations();
    Ok(out)
}

/// The 1-based line of the event with history index `index` in a history
/// file, found by reading it again (for error messages).
pub fn line_of_index(path: &Path, format: Format, index: u64) -> Option<usize> {
    let h = read_history_file_with(
        path,
        format,
        ImportOptions {
            allow_truncated: true,
        },
    )
    .ok()?;
    let at = h.events.iter().position(|e| e.index == index)?;
    h.lines.get(at).copied()
}

/// With `allow`, splits off a last line that has no newline and does not parse.
fn split_torn_tail(text: &str, format: Format, allow: bool) -> (&str, Option<usize>) {
    if !allow || text.is_empty() || text.ends_with('\n') {
        return (text, None);
    }
    let cut = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let last = &text[cut..];
    let parses = match format {
        Format::Jsonl => serde_json::from_str::<Event>(last).is_ok(),
        Format::Edn => edn::parse(last).is_ok(),
        _ => true,
    };
    if parses {
        (text, None)
    } else {
        (&text[..cut], Some(text[..cut].lines().count() + 1))
    }
}

/// Guesses the format from the first non-empty line.
pub fn detect(text: &str) -> Option<Format> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(if first.starts_with("{\"") || first.starts_with("{ \"") {
        Format::Jsonl
    } else if first.starts_with('{') {
        Format::Edn
    } else if first.contains(" - ") {
        Format::JepsenLog
    } else {
        Format::Jsonl
    })
}

/// Iterates non-comment lines with their 1-based numbers, reporting an empty
/// line inside the file (an empty last line is a missing record too).
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = Result<(usize, &str), LineError>> {
    let total = text.lines().count();
    text.lines().enumerate().map(move |(i, l)| {
        let line = i + 1;
        if l.trim().is_empty() {
            if line == total && total > 1 {
                return Err(LineError::new(
                    line,
                    "empty last line (a truncated history?)",
                ));
            }
            return Err(LineError::new(line, "empty line"));
        }
        Ok((line, l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(detect("{\"index\":0}\n"), Some(Format::Jsonl));
        assert_eq!(detect("{:type :invoke}\n"), Some(Format::Edn));
        assert_eq!(
            detect("INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n"),
            Some(Format::JepsenLog)
        );
        assert_eq!(detect("\n\n"), None);
    }

    #[test]
    fn a_torn_tail_is_an_error_unless_allowed() {
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"index\":1,\"ti";
        let p = Path::new("h.jsonl");
        let err = read_history_str(text, p, Format::Auto, ImportOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("h.jsonl:2:"), "{err}");
        let h = read_history_str(
            text,
            p,
            Format::Auto,
            ImportOptions {
                allow_truncated: true,
            },
        )
        .unwrap();
        assert_eq!(h.events.len(), 1);
        assert_eq!(h.warnings.len(), 1);
    }
}
