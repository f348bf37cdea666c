//! A small EDN reader: enough of the format for Jepsen histories (maps,
//! vectors, lists, sets, keywords, symbols, strings, numbers, nil, booleans,
//! tagged literals read as their inner value, `#_` discards and comments).

use serde_json::Value;

/// An EDN value, as Jepsen histories use them.
#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    /// `nil`, read as JSON `null`.
    Nil,
    /// A boolean, `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number, kept as JSON keeps it.
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// A keyword, without its leading colon.
    Keyword(String),
    /// A symbol, such as a bare word in a history (read as its text).
    Symbol(String),
    /// A vector or a list.
    Seq(Vec<Edn>),
    /// A set `#{...}`, in source order.
    Set(Vec<Edn>),
    /// A map, in source order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value under keyword `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
                Edn::Keyword(k) if k == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Converts to JSON: keywords and symbols become strings, sets arrays,
    /// maps objects with keys rendered as strings.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::from(*i),
            Edn::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::Seq(items) | Edn::Set(items) => {
                Value::Array(items.iter().map(Edn::to_json).collect())
            }
            Edn::Map(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        let key = match k.to_json() {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

/// Parses exactly one EDN value from `text` (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Edn, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let v = p.value()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(format!(
            "unexpected text after the value at column {}",
            p.pos + 1
        ));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.pos += 1,
                b';' => {
                    while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at column {}", self.pos + 1))
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip_ws();
        let Some(&c) = self.s.get(self.pos) else {
            return self.err("unexpected end of input");
        };
        match c {
            b'{' => {
                self.pos += 1;
                let items = self.items(b'}')?;
                if items.len() % 2 != 0 {
                    return self.err("map with an odd number of forms");
                }
                let mut it = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Edn::Map(pairs))
            }
            b'[' => {
                self.pos += 1;
                Ok(Edn::Seq(self.items(b']')?))
            }
            b'(' => {
                self.pos += 1;
                Ok(Edn::Seq(self.items(b')')?))
            }
            b'"' => self.string(),
            b':' => {
                self.pos += 1;
                let tok = self.token();
                if tok.is_empty() {
                    return self.err("empty keyword");
                }
                Ok(Edn::Keyword(tok.to_string()))
            }
            b'#' => {
                self.pos += 1;
                match self.s.get(self.pos) {
                    Some(b'{') => {
                        self.pos += 1;
                        Ok(Edn::Set(self.items(b'}')?))
                    }
                    Some(b'_') => {
                        self.pos += 1;
                        self.value()?;
                        self.value()
                    }
                    _ => {
                        // A tagged literal such as #inst "..." or #jepsen.history.Op{...}: keep the value.
                        let tag = self.token();
                        if tag.is_empty() {
                            return self.err("bad # dispatch");
                        }
                        self.value()
                    }
                }
            }
            b'\\' => {
                self.pos += 1;
                let tok = self.token();
                Ok(Edn::Str(tok.to_string()))
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return self.err(&format!("unexpected character {:?}", c as char));
                }
                Ok(atom(tok))
            }
        }
    }

    fn items(&mut self, close: u8) -> Result<Vec<Edn>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.pos) {
                None => return self.err(&format!("missing closing {:?}", close as char)),
                Some(&c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')'
                | b'"' | b';' => break,
                _ => self.pos += 1,
            }
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.pos) {
            self.pos += 1;
            match c {
                b'"' => {
                    return String::from_utf8(out)
                        .map(Edn::Str)
                        .or_else(|_| self.err("string is not valid UTF-8"));
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        break;
                    };
                    self.pos += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                _ => out.push(c),
            }
        }
        self.err("unterminated string")
    }
}

fn atom(tok: &str) -> Edn {
    match tok {
        "nil" => return Edn::Nil,
        "true" => return Edn::Bool(true),
        "false" => return Edn::Bool(false),
        _ => {}
    }
    let num = tok.trim_end_matches('N');
    if let Ok(i) = num.parse::<i64>() {
        return Edn::Int(i);
    }
    if let Ok(f) = tok.trim_end_matches('M').parse::<f64>() {
        if tok.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
            return Edn::Float(f);
        }
    }
    Edn::Symbol(tok.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jepsen_and_porcupine_forms() {
        let v = parse(r#"{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}"#)
            .unwrap();
        assert_eq!(v.get("type"), Some(&Edn::Keyword("invoke".into())));
        assert_eq!(v.get("key"), Some(&Edn::Str("4".into())));
        let v = parse("{:type :ok, :f :cas, :value [3 [1 2]], :time 12, :error nil}").unwrap();
        assert_eq!(
            v.get("value").unwrap().to_json(),
            serde_json::json!([3, [1, 2]])
        );
        assert_eq!(
            parse("#{1 2}").unwrap(),
            Edn::Set(vec![Edn::Int(1), Edn::Int(2)])
        );
        assert_eq!(
            parse(":timed-out").unwrap(),
            Edn::Keyword("timed-out".into())
        );
    }

    #[test]
    fn reports_where_it_broke() {
        assert!(parse("{:a 1").unwrap_err().contains("missing closing"));
        assert!(parse("{:a}").unwrap_err().contains("odd number"));
        assert!(parse("[1 2] 3").unwrap_err().contains("after the value"));
    }
}
