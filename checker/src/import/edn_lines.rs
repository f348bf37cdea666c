//! One EDN map per line: Jepsen's `history.edn` (independent keys written as
//! `:value [k v]` tuples) and Porcupine's KV histories (`:key "4"`).

use serde_json::Value;

use super::edn::{self, Edn};
use super::{numbered_lines, ImportedHistory, LineError};
use crate::history::{Event, EventType, Process};

/// Parses EDN lines into events.
pub(super) fn parse(text: &str) -> Result<ImportedHistory, LineError> {
    let mut maps = Vec::new();
    for item in numbered_lines(text) {
        let (line, l) = item?;
        let v = edn::parse(l).map_err(|e| LineError::new(line, format!("not valid EDN: {e}")))?;
        if !matches!(v, Edn::Map(_)) {
            return Err(LineError::new(
                line,
                "expected an EDN map such as {:type :invoke, ...}",
            ));
        }
        maps.push((line, v));
    }
    let independent = is_independent(&maps);
    let mut h = ImportedHistory::default();
    for (position, (line, m)) in maps.iter().enumerate() {
        let ev = event(position as u64, m, independent).map_err(|e| LineError::new(*line, e))?;
        h.events.push(ev);
        h.lines.push(*line);
    }
    Ok(h)
}

/// Whether client values are `[key value]` tuples of Jepsen's `independent`.
fn is_independent(maps: &[(usize, Edn)]) -> bool {
    let mut any_client = false;
    for (_, m) in maps {
        if m.get("key").is_some() {
            return false;
        }
        if matches!(m.get("process"), Some(Edn::Keyword(_))) {
            continue;
        }
        any_client = true;
        // A transaction's value is a list of micro-operations, never a tuple.
        if matches!(m.get("f"), Some(Edn::Keyword(f)) if f == "txn") {
            return false;
        }
        match m.get("value") {
            Some(Edn::Seq(kv)) if kv.len() == 2 => {
                let is_cas = matches!(m.get("f"), Some(Edn::Keyword(f)) if f == "cas");
                if is_cas && !matches!(&kv[1], Edn::Seq(_) | Edn::Nil | Edn::Keyword(_)) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    any_client
}

fn event(position: u64, m: &Edn, independent: bool) -> Result<Event, String> {
    let kind = match m.get("type") {
        Some(Edn::Keyword(t)) | Some(Edn::Str(t)) => match t.as_str() {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            other => {
                return Err(format!(
                    "unknown :type :{other} (expected :invoke, :ok, :fail or :info)"
                ))
            }
        },
        Some(other) => return Err(format!(":type must be a keyword, got {}", other.to_json())),
        None => return Err("missing :type".into()),
    };
    let process = match m.get("process") {
        Some(Edn::Int(p)) if *p >= 0 => Process::Client(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(format!(
                ":process must be a non-negative integer or :nemesis, got {}",
                other.to_json()
            ))
        }
        None => return Err("missing :process".into()),
    };
    let f = match m.get("f") {
        Some(Edn::Keyword(f)) | Some(Edn::Str(f)) | Some(Edn::Symbol(f)) => f.clone(),
        Some(other) => return Err(format!(":f must be a keyword, got {}", other.to_json())),
        None => return Err("missing :f".into()),
    };
    let raw_value = m.get("value").cloned().unwrap_or(Edn::Nil);
    let (key, value) = match m.get("key") {
        Some(Edn::Nil) | None if independent && process != Process::Nemesis => match raw_value {
            Edn::Seq(mut kv) if kv.len() == 2 => {
                let v = kv.pop().unwrap_or(Edn::Nil);
                let k = kv.pop().unwrap_or(Edn::Nil);
                (Some(key_string(&k)), v)
            }
            other => (None, other),
        },
        Some(Edn::Nil) | None => (None, raw_value),
        Some(k) => (Some(key_string(k)), raw_value),
    };
    let mut error = match m.get("error") {
        None | Some(Edn::Nil) => None,
        Some(e) => Some(render(e)),
    };
    // Jepsen's logger convention: a keyword in place of a completion value is the error.
    let value = match (&value, kind) {
        (Edn::Keyword(k), EventType::Fail | EventType::Info) => {
            error.get_or_insert_with(|| k.clone());
            Value::Null
        }
        _ => value.to_json(),
    };
    let time = match m.get("time") {
        Some(Edn::Int(t)) if *t >= 0 => *t as u64,
        _ => position,
    };
    Ok(Event {
        index: position,
        time,
        process,
        kind,
        f,
        key,
        value,
        error,
    })
}

fn key_string(k: &Edn) -> String {
    match k {
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
        other => other.to_json().to_string(),
    }
}

fn render(e: &Edn) -> String {
    match e {
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s.clone(),
        other => other.to_json().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcupine_kv_lines_keep_their_keys() {
        let h = parse(concat!(
            "{:process 0, :type :invoke, :f :append, :key \"4\", :value \"x 0 1 y\"}\n",
            "{:process 0, :type :ok, :f :append, :key \"4\", :value \"x 0 1 y\"}\n",
        ))
        .ok()
        .unwrap();
        assert_eq!(h.events[1].key.as_deref(), Some("4"));
        assert_eq!(h.events[1].value, Value::from("x 0 1 y"));
    }

    #[test]
    fn jepsen_independent_tuples_become_keys() {
        let h = parse(concat!(
            "{:type :invoke, :f :cas, :value [7 [1 2]], :process 3, :time 10}\n",
            "{:type :fail, :f :cas, :value [7 [1 2]], :process 3, :time 20, :error :mismatch}\n",
            "{:type :info, :f :kill, :value :all, :process :nemesis, :time 30}\n",
            "{:type :invoke, :f :read, :value [7 nil], :process 4, :time 40}\n",
        ))
        .ok()
        .unwrap();
        assert_eq!(h.events[0].key.as_deref(), Some("7"));
        assert_eq!(h.events[0].value, serde_json::json!([1, 2]));
        assert_eq!(h.events[1].error.as_deref(), Some("mismatch"));
        assert_eq!(h.events[2].process, Process::Nemesis);
        assert_eq!(h.events[3].value, Value::Null);
    }

    #[test]
    fn transactions_of_two_micro_operations_are_not_tuples() {
        let h = parse(concat!(
            "{:type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]], :process 0}\n",
            "{:type :ok, :f :txn, :value [[:append :x 1] [:r :y [2]]], :process 0}\n",
        ))
        .ok()
        .unwrap();
        assert_eq!(h.events[0].key, None);
        assert_eq!(
            h.events[1].value,
            serde_json::json!([["append", "x", 1], ["r", "y", [2]]])
        );
    }

    #[test]
    fn plain_cas_register_is_not_mistaken_for_tuples() {
        let h = parse(concat!(
            "{:type :invoke, :f :cas, :value [1 2], :process 3}\n",
            "{:type :invoke, :f :read, :value nil, :process 4}\n",
        ))
        .ok()
        .unwrap();
        assert_eq!(h.events[0].key, None);
        assert_eq!(h.events[0].value, serde_json::json!([1, 2]));
    }

    #[test]
    fn bad_lines_are_named() {
        let err = parse("{:type :done, :f :read, :process 1}\n")
            .err()
            .unwrap();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("unknown :type :done"));
    }
}
