//! faultline's own JSON Lines history format (docs/history.md).

use std::io::BufRead;

use super::{ImportedHistory, LineError};
use crate::history::Event;

/// Parses JSON Lines; indices must increase.
pub(super) fn parse(text: &str) -> Result<ImportedHistory, LineError> {
    let mut h = ImportedHistory::default();
    for item in Reader::new(text.as_bytes(), false) {
        let (line, ev) = item?;
        h.events.push(ev);
        h.lines.push(line);
    }
    Ok(h)
}

/// Reads events one line at a time from any buffered source, so that a
/// history need not be held whole. Yields each event with its 1-based line,
/// or the first line in error; indices must increase; an empty line is an
/// error (an empty last line is a truncated history). With
/// `allow_truncated`, a last line with no newline that does not parse is
/// dropped and its number kept in [`Reader::truncated`].
pub(crate) struct Reader<R> {
    src: R,
    line: usize,
    last_index: Option<u64>,
    empty_at: Option<usize>,
    allow_truncated: bool,
    /// The line dropped as cut off mid-write, if any.
    pub(crate) truncated: Option<usize>,
    buf: String,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(src: R, allow_truncated: bool) -> Self {
        Reader {
            src,
            line: 0,
            last_index: None,
            empty_at: None,
            allow_truncated,
            truncated: None,
            buf: String::new(),
            done: false,
        }
    }

    fn fail(&mut self, e: LineError) -> Option<Result<(usize, Event), LineError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<(usize, Event), LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            let read = match self.src.read_line(&mut self.buf) {
                Ok(n) => n,
                Err(e) => {
                    let line = self.line + 1;
                    return self.fail(LineError::new(line, format!("cannot read: {e}")));
                }
            };
            if read == 0 {
                self.done = true;
                return match self.empty_at {
                    Some(line) if line > 1 => Some(Err(LineError::new(
                        line,
                        "empty last line (a truncated history?)",
                    ))),
                    Some(line) => Some(Err(LineError::new(line, "empty line"))),
                    None => None,
                };
            }
            self.line += 1;
            if let Some(line) = self.empty_at {
                return self.fail(LineError::new(line, "empty line"));
            }
            let complete = self.buf.ends_with('\n');
            let text = self.buf.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                self.empty_at = Some(self.line);
                continue;
            }
            let ev: Event = match serde_json::from_str(text) {
                Ok(ev) => ev,
                Err(_) if !complete && self.allow_truncated => {
                    self.truncated = Some(self.line);
                    self.done = true;
                    return None;
                }
                Err(e) => return self.fail(LineError::new(self.line, describe(&e))),
            };
            if let Some(prev) = self.last_index {
                if ev.index <= prev {
                    let message = format!(
                        "index {} does not follow the previous index {prev}",
                        ev.index
                    );
                    return self.fail(LineError::new(self.line, message));
                }
            }
            self.last_index = Some(ev.index);
            return Some(Ok((self.line, ev)));
        }
        None
    }
}

fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("the line ends mid-record (truncated?): {e}"),
        Category::Syntax => format!("not valid JSON: {e}"),
        Category::Data => format!("not a history event: {e}"),
        Category::Io => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_line_and_the_problem() {
        let good = r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"read","value":null}"#;
        let bad_type = r#"{"index":1,"time":0,"process":0,"type":"done","f":"read","value":null}"#;
        let err = parse(&format!("{good}\n{bad_type}\n")).err().unwrap();
        assert_eq!(err.line, 2);
        assert!(
            err.message.contains("unknown variant `done`"),
            "{}",
            err.message
        );
        let err = parse(&format!("{good}\nnot json\n")).err().unwrap();
        assert!(err.message.starts_with("not valid JSON"), "{}", err.message);
        let err = parse(&format!("{good}\n{good}\n")).err().unwrap();
        assert!(err.message.contains("does not follow"), "{}", err.message);
        let err = parse(&format!("{good}\n\n{good}\n")).err().unwrap();
        assert_eq!((err.line, err.message.as_str()), (2, "empty line"));
    }
}
