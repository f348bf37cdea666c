//! faultline's own JSON Lines history format (docs/history.md).

use super::{numbered_lines, ImportedHistory, LineError};
use crate::history::Event;

/// Parses JSON Lines; indices must increase.
pub(super) fn parse(text: &str) -> Result<ImportedHistory, LineError> {
    let mut h = ImportedHistory::default();
    let mut last_index: Option<u64> = None;
    for item in numbered_lines(text) {
        let (line, l) = item?;
        let ev: Event = serde_json::from_str(l).map_err(|e| LineError::new(line, describe(&e)))?;
        if let Some(prev) = last_index {
            if ev.index <= prev {
                return Err(LineError::new(
                    line,
                    format!(
                        "index {} does not follow the previous index {prev}",
                        ev.index
                    ),
                ));
            }
        }
        last_index = Some(ev.index);
        h.events.push(ev);
        h.lines.push(line);
    }
    Ok(h)
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
