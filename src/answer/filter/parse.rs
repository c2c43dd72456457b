//! The filter expression language, parsed: tokens with their positions, then expressions
//! chained with `|`. Keywords and dataset names are read without regard to case (AWS's
//! own examples write `INTERACTIONS.EVENT_TYPE in (...)`); column names are upper-cased,
//! as schemas here hold them. Every error names what is wrong and where (the 1-based
//! character position in the expression).

use super::{
    Action, Cmp, Cond, Dataset, Field, Filter, Literal, Stage, Target, Test, UserTest, Values,
};

/// A parse error: what is wrong and at which character (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where: the 1-based character position in the expression.
    pub at: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at position {})", self.message, self.at)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Param(String),
    Star,
    Open,
    Close,
    Comma,
    Pipe,
    Op(Cmp),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("{w:?}"),
        Tok::Str(s) => format!("the string \"{s}\""),
        Tok::Num(n) => format!("the number {n}"),
        Tok::Param(p) => format!("${p}"),
        Tok::Star => "*".into(),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
        Tok::Comma => ",".into(),
        Tok::Pipe => "|".into(),
        Tok::Op(c) => c.as_str().into(),
        Tok::End => "the end of the expression".into(),
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |message: String, at: usize| ParseError {
        message,
        at: at + 1,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '|' => Tok::Pipe,
            '*' => Tok::Star,
            '=' => Tok::Op(Cmp::Eq),
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                if eq {
                    i += 1;
                }
                Tok::Op(match (c, eq) {
                    ('<', false) => Cmp::Lt,
                    ('<', true) => Cmp::Le,
                    ('>', false) => Cmp::Gt,
                    _ => Cmp::Ge,
                })
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                if i == chars.len() {
                    return Err(err("a string is not closed".into(), start));
                }
                Tok::Str(s)
            }
            '$' => {
                let mut s = String::new();
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '_')
                {
                    i += 1;
                    s.push(chars[i]);
                }
                if s.is_empty() || s.len() > 50 {
                    return Err(err(
                        "a parameter is $ and 1 to 50 of A-Z, a-z, 0-9 and _".into(),
                        start,
                    ));
                }
                Tok::Param(s)
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let mut s = String::from(c);
                while i + 1 < chars.len() && (chars[i + 1].is_ascii_digit() || chars[i + 1] == '.')
                {
                    i += 1;
                    s.push(chars[i]);
                }
                let n = s
                    .parse::<f64>()
                    .map_err(|_| err(format!("{s:?} is not a number"), start))?;
                Tok::Num(n)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while i + 1 < chars.len()
                    && (chars[i + 1].is_alphanumeric() || matches!(chars[i + 1], '_' | '.'))
                {
                    i += 1;
                    s.push(chars[i]);
                }
                Tok::Word(s)
            }
            other => return Err(err(format!("unexpected character {other:?}"), start)),
        };
        out.push((tok, start + 1));
        i += 1;
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn at(&self) -> usize {
        self.toks[self.i].1
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn fail<T>(&self, wanted: &str) -> Result<T, ParseError> {
        Err(ParseError {
            message: format!("expected {wanted}, found {}", describe(self.peek())),
            at: self.at(),
        })
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(k))
    }

    fn expect_keyword(&mut self, k: &str) -> Result<(), ParseError> {
        if self.keyword(k) {
            self.next();
            Ok(())
        } else {
            self.fail(k)
        }
    }

    fn expect(&mut self, t: Tok, wanted: &str) -> Result<(), ParseError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            self.fail(wanted)
        }
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let at = self.at();
        let action = if self.keyword("INCLUDE") {
            Action::Include
        } else if self.keyword("EXCLUDE") {
            Action::Exclude
        } else {
            return self.fail("INCLUDE or EXCLUDE");
        };
        self.next();
        let target = match self.peek() {
            Tok::Word(w) if w.eq_ignore_ascii_case("ItemID") => Target::ItemId,
            Tok::Word(w) if w.eq_ignore_ascii_case("ActionID") => Target::ActionId,
            Tok::Word(w) if w.eq_ignore_ascii_case("UserID") => Target::UserId,
            _ => return self.fail("ItemID, ActionID or UserID"),
        };
        self.next();
        self.expect_keyword("WHERE")?;
        let mut any_of = vec![vec![self.cond()?]];
        loop {
            if self.keyword("AND") {
                self.next();
                any_of
                    .last_mut()
                    .expect("one group at least")
                    .push(self.cond()?);
            } else if self.keyword("OR") {
                self.next();
                any_of.push(vec![self.cond()?]);
            } else {
                break;
            }
        }
        let mut only_if = Vec::new();
        if self.keyword("IF") {
            self.next();
            only_if.push(self.user_test()?);
            while self.keyword("AND") {
                self.next();
                only_if.push(self.user_test()?);
            }
        }
        Ok(Stage {
            action,
            target,
            any_of,
            only_if,
            at,
        })
    }

    /// `Dataset.COLUMN`, `CurrentItem.COLUMN` or `CurrentUser.COLUMN`.
    fn field(&mut self) -> Result<(Field, usize), ParseError> {
        let at = self.at();
        let Tok::Word(w) = self.peek().clone() else {
            return self.fail("a field such as Items.GENRE");
        };
        let Some((dataset, column)) = w.split_once('.') else {
            return self.fail("a field such as Items.GENRE (a dataset, a dot, a column)");
        };
        let dataset = Dataset::parse(dataset).ok_or_else(|| ParseError {
            message: format!(
                "{dataset:?} is not a dataset: Items, Users, Interactions, Actions, Action_Interactions, CurrentItem or CurrentUser"
            ),
            at,
        })?;
        if column.is_empty() || column.contains('.') {
            return self.fail("a field such as Items.GENRE");
        }
        self.next();
        Ok((
            Field {
                dataset,
                column: column.to_ascii_uppercase(),
            },
            at,
        ))
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        match self.next() {
            (Tok::Str(s), _) => Ok(Literal::Str(s)),
            (Tok::Num(n), _) => Ok(Literal::Num(n)),
            (Tok::Star, _) => Ok(Literal::Any),
            (t, at) => Err(ParseError {
                message: format!(
                    "expected a value (a \"string\", a number or *), found {}",
                    describe(&t)
                ),
                at,
            }),
        }
    }

    /// `( value, ... )` or `( $PARAM )`, or a current field.
    fn values(&mut self) -> Result<Values, ParseError> {
        if let Tok::Word(_) = self.peek() {
            let (f, at) = self.field()?;
            if !f.dataset.is_current() {
                return Err(ParseError {
                    message: "a list of values is in parentheses; only CurrentItem and CurrentUser fields go bare".into(),
                    at,
                });
            }
            return Ok(Values::Current(f));
        }
        self.expect(Tok::Open, "(")?;
        if let Tok::Param(p) = self.peek().clone() {
            self.next();
            self.expect(Tok::Close, ")")?;
            return Ok(Values::Param(p));
        }
        let mut list = vec![self.literal()?];
        while *self.peek() == Tok::Comma {
            self.next();
            list.push(self.literal()?);
        }
        self.expect(Tok::Close, ") or ,")?;
        Ok(Values::List(list))
    }

    fn cond(&mut self) -> Result<Cond, ParseError> {
        let (field, at) = self.field()?;
        if field.dataset.is_current() {
            return Err(ParseError {
                message: format!(
                    "{} fields go on the right of a condition, or after IF",
                    field.dataset.as_str()
                ),
                at,
            });
        }
        let test = self.test(at)?;
        Ok(Cond { field, test, at })
    }

    fn test(&mut self, at: usize) -> Result<Test, ParseError> {
        if self.keyword("NOT") {
            self.next();
            self.expect_keyword("IN")?;
            let values = self.values()?;
            if matches!(values, Values::Param(_)) {
                return Err(ParseError {
                    message: "NOT IN takes no parameter: use IN with the opposite action".into(),
                    at,
                });
            }
            return Ok(Test::NotIn(values));
        }
        if self.keyword("IN") {
            self.next();
            return Ok(Test::In(self.values()?));
        }
        let Tok::Op(cmp) = self.peek().clone() else {
            return self.fail("IN, NOT IN or a comparison (=, <, <=, >, >=)");
        };
        self.next();
        let value = match self.peek().clone() {
            Tok::Num(n) => {
                self.next();
                Values::List(vec![Literal::Num(n)])
            }
            Tok::Param(p) => {
                self.next();
                Values::Param(p)
            }
            Tok::Open => {
                self.next();
                let Tok::Param(p) = self.peek().clone() else {
                    return self.fail("a parameter");
                };
                self.next();
                self.expect(Tok::Close, ")")?;
                Values::Param(p)
            }
            Tok::Word(_) => {
                let (f, fat) = self.field()?;
                if !f.dataset.is_current() {
                    return Err(ParseError {
                        message: "a comparison is with a number, a parameter or a CurrentItem or CurrentUser field".into(),
                        at: fat,
                    });
                }
                Values::Current(f)
            }
            Tok::Str(s) if cmp == Cmp::Eq => {
                self.next();
                Values::List(vec![Literal::Str(s)])
            }
            _ => return self.fail("a number, a parameter or a current field"),
        };
        Ok(Test::Cmp(cmp, value))
    }

    fn user_test(&mut self) -> Result<UserTest, ParseError> {
        let (field, at) = self.field()?;
        if field.dataset != Dataset::CurrentUser {
            return Err(ParseError {
                message: format!(
                    "IF tests CurrentUser fields only, not {}",
                    field.dataset.as_str()
                ),
                at,
            });
        }
        let test = self.test(at)?;
        if let Test::In(Values::Current(_)) | Test::Cmp(_, Values::Current(_)) = test {
            return Err(ParseError {
                message: "IF compares CurrentUser with values or parameters".into(),
                at,
            });
        }
        Ok(UserTest { field, test, at })
    }
}

/// Parses an expression (at most 2500 characters).
pub fn parse(text: &str) -> Result<Filter, ParseError> {
    let len = text.chars().count();
    if len == 0 || len > 2500 {
        return Err(ParseError {
            message: format!("a filter expression has 1 to 2500 characters, not {len}"),
            at: 1,
        });
    }
    let mut p = Parser {
        toks: lex(text)?,
        i: 0,
    };
    let mut stages = vec![p.stage()?];
    while *p.peek() == Tok::Pipe {
        p.next();
        stages.push(p.stage()?);
    }
    if *p.peek() != Tok::End {
        return p.fail("AND, OR, IF, | or the end of the expression");
    }
    Ok(Filter { stages })
}
