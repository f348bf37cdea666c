//! Reads transactional histories straight from text into a
//! [`TxnHistory`], without building a tree of values: one event a line,
//! either Jepsen EDN as Elle reads it
//! (`{:type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]], :process 0, :index 0}`)
//! or faultline's JSON Lines
//! (`{"type":"invoke","f":"txn","value":[["append","x",1],["r","y",null]],"process":0,"index":0}`).
//! Commas are whitespace (as in EDN), `;` starts a comment, blank lines are
//! skipped, unknown fields are ignored. Every error names its line.

use super::build::{Builder, Kind};
use super::history::{Mop, MopKind, ReadValue, TxnHistory};

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses a whole history.
pub fn parse_text(text: &str) -> Result<TxnHistory, ParseError> {
    let mut b = Builder::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        parse_line(&mut b, line, n).map_err(|message| ParseError { line: n, message })?;
    }
    Ok(b.finish())
}

/// A scalar field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom<'a> {
    /// A keyword, string or symbol, without its colon or quotes.
    Word(&'a str),
    Int(i64),
    Nil,
    /// Anything else (a collection, a float, a boolean).
    Other,
}

struct Scan<'a> {
    /// The line; slices at ASCII delimiters are always char boundaries.
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Bytes that end a bare word or number.
const DELIM: [bool; 256] = {
    let mut t = [false; 256];
    let ends = b" \t,\r\n]})[{(\";";
    let mut i = 0;
    while i < ends.len() {
        t[ends[i] as usize] = true;
        i += 1;
    }
    t
};

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\t' | b',' | b'\r' | b'\n' => self.i += 1,
                b';' => self.i = self.b.len(),
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "expected {:?} at column {}, found {:?}",
                c as char,
                self.i + 1,
                x as char
            )),
            None => Err(format!(
                "expected {:?}, found the end of the line",
                c as char
            )),
        }
    }

    fn word_end(&self, from: usize) -> usize {
        let mut j = from;
        while j < self.b.len() && !DELIM[self.b[j] as usize] {
            j += 1;
        }
        j
    }

    fn text(&self, from: usize, to: usize) -> Result<&'a str, String> {
        self.s
            .get(from..to)
            .ok_or_else(|| format!("invalid UTF-8 at column {}", from + 1))
    }

    /// An integer written in plain decimal, read without building a string;
    /// None (and nothing consumed) for anything else.
    fn int(&mut self) -> Option<i64> {
        let (mut j, neg) = match self.b.get(self.i) {
            Some(b'-') => (self.i + 1, true),
            _ => (self.i, false),
        };
        let start = j;
        let mut v: i64 = 0;
        while let Some(&c) = self.b.get(j) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            j += 1;
        }
        if j == start || (j < self.b.len() && !DELIM[self.b[j] as usize]) {
            return None;
        }
        self.i = j;
        Some(if neg { -v } else { v })
    }

    /// A string's contents; escapes are rare in keys and keywords, so a
    /// string holding one is returned raw (still unique as a key).
    fn string(&mut self) -> Result<&'a str, String> {
        let start = self.i + 1;
        let mut j = start;
        while let Some(&c) = self.b.get(j) {
            match c {
                b'"' => {
                    self.i = j + 1;
                    return self.text(start, j);
                }
                b'\\' => j += 2,
                _ => j += 1,
            }
        }
        Err("unterminated string".into())
    }

    fn atom(&mut self) -> Result<Atom<'a>, String> {
        match self.peek() {
            None => Err("expected a value, found the end of the line".into()),
            Some(b'"') => Ok(Atom::Word(self.string()?)),
            Some(b':') => {
                let end = self.word_end(self.i + 1);
                let w = self.text(self.i + 1, end)?;
                self.i = end;
                Ok(Atom::Word(w))
            }
            Some(b'[' | b'{' | b'(' | b'#') => {
                self.skip()?;
                Ok(Atom::Other)
            }
            Some(c) => {
                if c.is_ascii_digit() || c == b'-' {
                    if let Some(v) = self.int() {
                        return Ok(Atom::Int(v));
                    }
                }
                let end = self.word_end(self.i);
                let w = self.text(self.i, end)?;
                self.i = end;
                Ok(match w {
                    "nil" | "null" => Atom::Nil,
                    _ => match w.parse::<i64>() {
                        Ok(n) => Atom::Int(n),
                        Err(_) if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
                            Atom::Other
                        }
                        Err(_) => Atom::Word(w),
                    },
                })
            }
        }
    }

    /// Skips one value of any shape.
    fn skip(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'#') => {
                self.i += 1;
                if matches!(self.b.get(self.i), Some(b'{')) {
                    self.skip()
                } else {
                    self.atom().map(|_| ())
                }
            }
            Some(open @ (b'[' | b'{' | b'(')) => {
                let close = match open {
                    b'[' => b']',
                    b'{' => b'}',
                    _ => b')',
                };
                self.i += 1;
                loop {
                    match self.peek() {
                        None => return Err(format!("unclosed {:?}", open as char)),
                        Some(c) if c == close => {
                            self.i += 1;
                            return Ok(());
                        }
                        Some(b':') if open == b'{' => {
                            // A JSON key separator or an EDN keyword.
                            if self
                                .b
                                .get(self.i + 1)
                                .is_some_and(|c| !c.is_ascii_alphabetic())
                            {
                                self.i += 1;
                            } else {
                                self.atom()?;
                            }
                        }
                        Some(_) => self.skip()?,
                    }
                }
            }
            Some(_) => self.atom().map(|_| ()),
            None => Err("expected a value, found the end of the line".into()),
        }
    }

    fn open_seq(&mut self) -> Result<u8, String> {
        match self.peek() {
            Some(b'[') => {
                self.i += 1;
                Ok(b']')
            }
            Some(b'(') => {
                self.i += 1;
                Ok(b')')
            }
            _ => Err(format!("expected a vector at column {}", self.i + 1)),
        }
    }
}

/// The fields of one event line that matter.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<Atom<'a>>,
    f: Option<Atom<'a>>,
    process: Option<Atom<'a>>,
    index: Option<Atom<'a>>,
    time: Option<Atom<'a>>,
    /// Byte range of `value`, parsed once the event is known to be a
    /// client transaction.
    value: Option<(usize, usize)>,
}

fn parse_line(b: &mut Builder, line: &str, n: usize) -> Result<(), String> {
    let mut s = Scan {
        s: line,
        b: line.as_bytes(),
        i: 0,
    };
    if s.peek().is_none() {
        return Ok(());
    }
    let fields = fields(&mut s)?;
    let mark = b.mark();
    let process = match fields.process {
        Some(Atom::Int(p)) if p >= 0 => Some(p as u64),
        Some(Atom::Word("nemesis")) => None,
        Some(other) => {
            return Err(format!(
                "process must be a non-negative integer or nemesis, got {other:?}"
            ))
        }
        None => return Err("missing process".into()),
    };
    let Some(process) = process else {
        b.skip(mark);
        return Ok(());
    };
    let kind = match fields.kind {
        Some(Atom::Word("invoke")) => Kind::Invoke,
        Some(Atom::Word("ok")) => Kind::Ok,
        Some(Atom::Word("fail")) => Kind::Fail,
        Some(Atom::Word("info")) => Kind::Info,
        Some(other) => {
            return Err(format!(
                "unknown type {other:?} (expected invoke, ok, fail or info)"
            ))
        }
        None => return Err("missing type".into()),
    };
    match fields.f {
        Some(Atom::Word("txn")) => {}
        Some(Atom::Word(f)) => {
            return Err(format!(
                "f is {f:?}, not \"txn\": a transactional model reads only transactions (micro-operations in value)"
            ))
        }
        _ => return Err("missing f (expected txn)".into()),
    }
    let int = |a: Option<Atom>, what: &str| -> Result<Option<u64>, String> {
        match a {
            None | Some(Atom::Nil) => Ok(None),
            Some(Atom::Int(v)) if v >= 0 => Ok(Some(v as u64)),
            Some(other) => Err(format!(
                "{what} must be a non-negative integer, got {other:?}"
            )),
        }
    };
    let index = int(fields.index, "index")?;
    let time = int(fields.time, "time")?;
    if let Some((from, to)) = fields.value {
        let mut v = Scan {
            s: &line[..to],
            b: &line.as_bytes()[..to],
            i: from,
        };
        mops(b, &mut v, kind == Kind::Ok)?;
    } else if kind == Kind::Invoke || kind == Kind::Ok {
        return Err("missing value (the transaction's micro-operations)".into());
    }
    b.push(kind, process, index, time, n, mark)
}

fn fields<'a>(s: &mut Scan<'a>) -> Result<Fields<'a>, String> {
    s.expect(b'{').map_err(|_| {
        "expected a map such as {:type :invoke, :f :txn, ...} or a JSON object".to_string()
    })?;
    let mut f = Fields::default();
    loop {
        let key = match s.peek() {
            Some(b'}') => {
                s.i += 1;
                return Ok(f);
            }
            Some(b'"') => {
                let k = s.string()?;
                s.expect(b':')?;
                k
            }
            Some(b':') => match s.atom()? {
                Atom::Word(k) => k,
                _ => return Err("expected a keyword key".into()),
            },
            Some(_) => return Err(format!("expected a field name at column {}", s.i + 1)),
            None => return Err("unclosed map".into()),
        };
        match key {
            "type" => f.kind = Some(s.atom()?),
            "f" => f.f = Some(s.atom()?),
            "process" => f.process = Some(s.atom()?),
            "index" => f.index = Some(s.atom()?),
            "time" => f.time = Some(s.atom()?),
            "value" => {
                s.ws();
                let from = s.i;
                s.skip()?;
                f.value = Some((from, s.i));
            }
            _ => s.skip()?,
        }
    }
}

/// Reads the micro-operations into the builder's scratch; list reads go
/// into the element pool when `keep_reads` (an ok completion).
fn mops(b: &mut Builder, s: &mut Scan, keep_reads: bool) -> Result<(), String> {
    if s.peek() == Some(b'n') {
        // `nil`: no micro-operations (a fail or info may carry none).
        return match s.atom()? {
            Atom::Nil => Ok(()),
            other => Err(format!(
                "value must be a vector of micro-operations, got {other:?}"
            )),
        };
    }
    let close = s.open_seq()?;
    loop {
        if s.peek() == Some(close) {
            s.i += 1;
            return Ok(());
        }
        let end = s.open_seq().map_err(|_| {
            format!(
                "micro-operation {} must be a vector such as [:append :x 1] or [\"r\",\"x\",null]",
                b.scratch.len() + 1
            )
        })?;
        let which = b.scratch.len() + 1;
        let kind = match s.atom()? {
            Atom::Word("append") => MopKind::Append,
            Atom::Word("r") => MopKind::Read,
            Atom::Word("w") => MopKind::Write,
            other => {
                return Err(format!(
                    "micro-operation {which}: unknown function {other:?} (expected append, r or w)"
                ))
            }
        };
        let key = match s.atom()? {
            Atom::Word(k) => b.h.keys.intern(k),
            Atom::Int(k) => b.h.keys.intern_int(k),
            other => {
                return Err(format!(
                "micro-operation {which}: key must be a keyword, string or integer, got {other:?}"
            ))
            }
        };
        let mut mop = Mop {
            kind,
            key,
            arg: 0,
            read: ReadValue::Unknown,
        };
        if kind == MopKind::Read {
            mop.read = read_value(b, s, keep_reads, which)?;
        } else {
            mop.arg = match s.atom()? {
                Atom::Int(v) => v,
                other => {
                    return Err(format!(
                        "micro-operation {which}: the {} value must be an integer, got {other:?}",
                        kind.name()
                    ))
                }
            };
        }
        if s.peek() != Some(end) {
            return Err(format!("micro-operation {which} has more than three parts"));
        }
        s.i += 1;
        b.scratch.push(mop);
    }
}

fn read_value(
    b: &mut Builder,
    s: &mut Scan,
    keep: bool,
    which: usize,
) -> Result<ReadValue, String> {
    match s.peek() {
        Some(b'[' | b'(') => {
            let close = s.open_seq()?;
            let start = b.h.elements.len();
            loop {
                if s.peek() == Some(close) {
                    s.i += 1;
                    break;
                }
                match s.atom()? {
                    Atom::Int(e) => b.h.elements.push(e),
                    other => {
                        return Err(format!(
                            "micro-operation {which}: list elements must be integers, got {other:?}"
                        ))
                    }
                }
            }
            if !keep {
                b.h.elements.truncate(start);
                return Ok(ReadValue::Unknown);
            }
            Ok(ReadValue::List {
                start: start as u32,
                len: (b.h.elements.len() - start) as u32,
            })
        }
        _ => match s.atom()? {
            Atom::Nil if keep => Ok(ReadValue::Nil),
            Atom::Int(v) if keep => Ok(ReadValue::Int(v)),
            Atom::Nil | Atom::Int(_) => Ok(ReadValue::Unknown),
            other => Err(format!(
                "micro-operation {which}: a read's value must be nil, an integer or a list of integers, got {other:?}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn edn_and_jsonl_read_the_same() {
        let edn = "{:type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]], :process 0, :index 0}\n\
                   ; a comment\n\
                   {:type :ok, :f :txn, :value [[:append :x 1] [:r :y [3 4]]], :process 0, :index 1}\n";
        let json = "{\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1],[\"r\",\"y\",null]],\"process\":0,\"index\":0}\n\
                    {\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1],[\"r\",\"y\",[3,4]]],\"process\":0,\"index\":1}\n";
        for text in [edn, json] {
            let h = parse_text(text).unwrap();
            assert_eq!(h.txns.len(), 1);
            assert_eq!(h.txns[0].outcome, Outcome::Ok);
            let m = h.mops_of(0);
            assert_eq!(h.render_mop(&m[0]), "[:append x 1]");
            assert_eq!(h.render_mop(&m[1]), "[:r y [3 4]]");
        }
    }

    #[test]
    fn nemesis_and_unknown_fields_are_skipped() {
        let text = "{:type :info, :f :kill, :value {:n1 [:a \"b\"]}, :process :nemesis}\n\
                    {:type :invoke, :f :txn, :value [[:w 5 1]], :process 3, :extra #{1 2}}\n\
                    {:type :info, :f :txn, :value [[:w 5 1]], :process 3, :error [:timeout]}\n";
        let h = parse_text(text).unwrap();
        assert_eq!(h.txns.len(), 1);
        assert_eq!(h.txns[0].outcome, Outcome::Info);
        assert_eq!(h.txns[0].invoke_pos, 1);
        assert_eq!(h.keys.name(h.mops_of(0)[0].key), "5");
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let e = parse_text("{:type :invoke, :f :txn, :value [[:append :x 1]], :process 0}\n{:type :ok, :f :txn, :value [[:append :x 2]], :process 0}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("differs from its invocation on line 1"),
            "{e}"
        );
        let e = parse_text("{:type :invoke, :f :read, :value nil, :process 0}\n").unwrap_err();
        assert!(e.message.contains("not \"txn\""), "{e}");
        let e =
            parse_text("{:type :invoke, :f :txn, :value [[:cas :x 1]], :process 0}\n").unwrap_err();
        assert!(e.message.contains("unknown function"), "{e}");
        let e = parse_text("{:type :ok, :f :txn, :value [], :process 0}\n").unwrap_err();
        assert!(e.message.contains("without an open invocation"), "{e}");
    }
}
