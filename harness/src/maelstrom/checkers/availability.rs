//! `availability`: Maelstrom's availability checker. With `faultline
//! maelstrom test --availability total` every operation must succeed; with
//! a fraction, at least that share of them; without the flag the share is
//! only reported. The target is the Maelstrom option [`OPTION`] that
//! `test.json` records.

use std::fmt;
use std::str::FromStr;

use faultline_checker::history::Outcome;
use faultline_checker::Verdict;
use serde_json::Value;

use super::recorded;
use super::workloads::{Findings, KIND};
use crate::checkers::{CheckContext, Checker, CheckerError, Judgement};

/// The Maelstrom option (a key of `test.json`'s options) holding the target.
pub const OPTION: &str = "availability";

/// What share of the operations must succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Availability {
    /// Every one (`total`).
    Total,
    /// At least this fraction, 0 to 1.
    Fraction(f64),
}

impl FromStr for Availability {
    type Err = String;

    fn from_str(s: &str) -> Result<Availability, String> {
        if s.trim() == "total" {
            return Ok(Availability::Total);
        }
        match s.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => Ok(Availability::Fraction(f)),
            _ => Err(format!(
                "availability {s:?}: `total` or a fraction between 0 and 1"
            )),
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Total => f.write_str("total"),
            Availability::Fraction(x) => write!(f, "{x}"),
        }
    }
}

impl Availability {
    /// The target as `test.json` records it: `"total"` or the fraction.
    pub fn to_json(self) -> Value {
        match self {
            Availability::Total => Value::from("total"),
            Availability::Fraction(x) => Value::from(x),
        }
    }

    /// The target `test.json` recorded in `v`.
    pub fn from_json(v: &Value) -> Result<Availability, String> {
        match v {
            Value::String(s) => s.parse(),
            Value::Number(n) => n
                .as_f64()
                .map(|x| x.to_string())
                .unwrap_or_default()
                .parse(),
            other => Err(format!("availability {other}: `total` or a fraction")),
        }
    }

    /// Whether `ok` successes out of `all` operations meet the target.
    pub fn met(self, ok: usize, all: usize) -> bool {
        match self {
            Availability::Total => ok == all,
            Availability::Fraction(x) => all == 0 || ok as f64 >= x * all as f64,
        }
    }
}

/// The availability checker.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityChecker;

/// `availability`.
pub const AVAILABILITY: AvailabilityChecker = AvailabilityChecker;

impl Checker for AvailabilityChecker {
    fn name(&self) -> &'static str {
        "availability"
    }

    fn description(&self) -> &'static str {
        "Maelstrom --availability: every operation ok (total), or at least the fraction given"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let ops = ctx.operations()?;
        let target = recorded(ctx, OPTION)?
            .map(|v| Availability::from_json(&v))
            .transpose()
            .map_err(|e| CheckerError::History(format!("the run's {e}")))?;
        let ok = ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
        let all = ops.len();
        let share = match all {
            0 => 100.0,
            n => 100.0 * ok as f64 / n as f64,
        };
        let line = format!("{ok} of {all} operations ok ({share:.1}%)");
        let found = match target {
            None => Findings {
                verdict: Verdict::Valid,
                lines: vec![format!("{line}; no --availability target")],
            },
            Some(t) => Findings {
                verdict: match t.met(ok, all) {
                    true => Verdict::Valid,
                    false => Verdict::Invalid,
                },
                lines: vec![format!("{line}; --availability {t}")],
            },
        };
        Ok(Judgement::new(found.verdict, found.text(), &found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_are_met_as_maelstrom_meets_them() {
        assert_eq!("total".parse(), Ok(Availability::Total));
        assert_eq!("0.9".parse(), Ok(Availability::Fraction(0.9)));
        assert!("1.5".parse::<Availability>().is_err());
        assert!("all".parse::<Availability>().is_err());
        assert!(Availability::Total.met(3, 3) && !Availability::Total.met(2, 3));
        assert!(Availability::Fraction(0.5).met(2, 4) && !Availability::Fraction(0.5).met(1, 4));
        assert!(Availability::Total.met(0, 0));
        for a in [Availability::Total, Availability::Fraction(0.25)] {
            assert_eq!(Availability::from_json(&a.to_json()), Ok(a));
        }
        assert!(Availability::from_json(&Value::Bool(true)).is_err());
    }
}
