//! Jepsen's logger lines, as in Porcupine's etcd corpus:
//! `INFO  jepsen.util - 3 :invoke :cas [1 4]` (fields separated by tabs or spaces).

use super::edn::{self, Edn};
use super::{numbered_lines, ImportedHistory, LineError};
use crate::history::{Event, EventType, Process};

/// Parses logger lines; lines of other loggers are skipped.
pub(super) fn parse(text: &str) -> Result<ImportedHistory, LineError> {
    let mut h = ImportedHistory::default();
    for item in numbered_lines(text) {
        let (line, l) = item?;
        let Some((_, rest)) = l.split_once("jepsen.util - ") else {
            continue;
        };
        let ev = event(h.events.len() as u64, rest).map_err(|m| LineError::new(line, m))?;
        h.events.push(ev);
        h.lines.push(line);
    }
    Ok(h)
}

fn event(index: u64, rest: &str) -> Result<Event, String> {
    let mut rest = rest.trim();
    let mut next = |what: &str| -> Result<&str, String> {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        rest = after.trim_start();
        if token.is_empty() {
            Err(format!("missing {what}"))
        } else {
            Ok(token)
        }
    };
    let process = next("process")?;
    let process = match process {
        ":nemesis" => Process::Nemesis,
        p => Process::Client(
            p.parse()
                .map_err(|_| format!("process must be a number or :nemesis, got {p:?}"))?,
        ),
    };
    let kind = match next("type")? {
        ":invoke" => EventType::Invoke,
        ":ok" => EventType::Ok,
        ":fail" => EventType::Fail,
        ":info" => EventType::Info,
        other => {
            return Err(format!(
                "unknown type {other:?} (expected :invoke, :ok, :fail or :info)"
            ))
        }
    };
    let f = next("function")?.trim_start_matches(':').to_string();
    let raw = rest.trim();
    let value = edn::parse(if raw.is_empty() { "nil" } else { raw })
        .map_err(|e| format!("value {raw:?} is not valid EDN: {e}"))?;
    let (value, error) = match (value, kind) {
        (Edn::Keyword(k), EventType::Fail | EventType::Info) => (serde_json::Value::Null, Some(k)),
        (v, _) => (v.to_json(), None),
    };
    Ok(Event {
        index,
        time: index,
        process,
        kind,
        f,
        key: None,
        value,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tabs_and_padded_spaces() {
        let h = parse(concat!(
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n",
            "INFO  jepsen.util - 3   :fail   :cas    [1 4]\n",
            "INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n",
        ))
        .ok()
        .unwrap();
        assert_eq!(h.events[1].kind, EventType::Fail);
        assert_eq!(h.events[1].value, serde_json::json!([1, 4]));
        assert_eq!(h.events[2].error.as_deref(), Some("timed-out"));
    }

    #[test]
    fn names_a_bad_line() {
        let err = parse("INFO  jepsen.util - x\t:invoke\t:read\tnil\n")
            .err()
            .unwrap();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("process"));
    }
}
