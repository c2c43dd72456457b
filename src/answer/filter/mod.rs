//! Filters: the service's filter expression language, parsed for real ([`parse`]), checked
//! against the dataset group's schemas ([`check`]), bound to a request's `filterValues`
//! ([`bind`]) and applied to ranked candidates ([`keeps`]).
//!
//! An expression is one or more stages chained with `|`, each applied to what the one
//! before kept: `INCLUDE|EXCLUDE ItemID|ActionID|UserID WHERE <conditions> [IF <user
//! tests>]`. Conditions are joined with AND and OR (AND binds tighter); each tests one
//! field of one dataset with `IN (...)`, `NOT IN (...)` or a comparison; values are strings,
//! numbers, `*` (any event type) or a `$PARAM` given at request time; `CurrentItem.X` and
//! `CurrentUser.X` stand for the request's item and user.

mod apply;
mod parse;

use std::collections::HashMap;

pub use self::apply::{keeps, Facts, Record, HISTORY_PER_TYPE};
pub use self::parse::{parse, ParseError};
use crate::store::DatasetType;

/// The kind of a filter's record in the store.
pub const KIND: &str = "filter";

/// What a stage does with the candidates its conditions match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Keeps only them.
    Include,
    /// Drops them.
    Exclude,
}

/// What a stage filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Items (recommendations, rankings).
    ItemId,
    /// Actions (action recommendations).
    ActionId,
    /// Users (user segments).
    UserId,
}

/// Where a field's values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// The candidate item's record.
    Items,
    /// The candidate user's record.
    Users,
    /// The user's interactions with the candidate item.
    Interactions,
    /// The candidate action's record.
    Actions,
    /// The user's interactions with the candidate action.
    ActionInteractions,
    /// The request's item's record.
    CurrentItem,
    /// The request's user's record.
    CurrentUser,
}

impl Dataset {
    fn parse(s: &str) -> Option<Dataset> {
        let all = [
            ("Items", Dataset::Items),
            ("Users", Dataset::Users),
            ("Interactions", Dataset::Interactions),
            ("Actions", Dataset::Actions),
            ("Action_Interactions", Dataset::ActionInteractions),
            ("CurrentItem", Dataset::CurrentItem),
            ("CurrentUser", Dataset::CurrentUser),
        ];
        all.into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, d)| d)
    }

    /// Its name in expressions.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Items => "Items",
            Dataset::Users => "Users",
            Dataset::Interactions => "Interactions",
            Dataset::Actions => "Actions",
            Dataset::ActionInteractions => "Action_Interactions",
            Dataset::CurrentItem => "CurrentItem",
            Dataset::CurrentUser => "CurrentUser",
        }
    }

    fn is_current(self) -> bool {
        matches!(self, Dataset::CurrentItem | Dataset::CurrentUser)
    }

    /// The dataset whose records hold its values.
    pub fn dataset_type(self) -> DatasetType {
        match self {
            Dataset::Items | Dataset::CurrentItem => DatasetType::Items,
            Dataset::Users | Dataset::CurrentUser => DatasetType::Users,
            Dataset::Interactions => DatasetType::Interactions,
            Dataset::Actions => DatasetType::Actions,
            Dataset::ActionInteractions => DatasetType::ActionInteractions,
        }
    }

    fn is_interactions(self) -> bool {
        matches!(self, Dataset::Interactions | Dataset::ActionInteractions)
    }
}

/// `Dataset.COLUMN` (the column upper-cased).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Where its values come from.
    pub dataset: Dataset,
    /// The column.
    pub column: String,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"text"`
    Str(String),
    /// `12.5`
    Num(f64),
    /// `*`: any event type.
    Any,
}

/// What a field is tested against.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Values written in the expression (or bound to a parameter).
    List(Vec<Literal>),
    /// `$NAME`, given at request time.
    Param(String),
    /// A field of the request's item or user.
    Current(Field),
}

/// How a field is tested.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// One of its values is one of these.
    In(Values),
    /// None of its values is one of these.
    NotIn(Values),
    /// Its number compares so with this one.
    Cmp(Cmp, Values),
}

/// A condition on a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// The field tested.
    pub field: Field,
    /// The test.
    pub test: Test,
    /// Its position in the expression.
    pub at: usize,
}

/// A test of the request's user, after IF.
#[derive(Debug, Clone, PartialEq)]
pub struct UserTest {
    /// A `CurrentUser` field.
    pub field: Field,
    /// The test.
    pub test: Test,
    /// Its position in the expression.
    pub at: usize,
}

/// One INCLUDE or EXCLUDE.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Keep or drop what matches.
    pub action: Action,
    /// What it filters.
    pub target: Target,
    /// Conditions: any of these groups, each all of its conditions.
    pub any_of: Vec<Vec<Cond>>,
    /// The stage applies only when the user passes all of these.
    pub only_if: Vec<UserTest>,
    /// Its position in the expression.
    pub at: usize,
}

/// A parsed expression: stages applied one after another.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The stages.
    pub stages: Vec<Stage>,
}

/// At most this many distinct fields in one filter.
pub const MAX_FIELDS: usize = 10;

fn error(message: String, at: usize) -> ParseError {
    ParseError { message, at }
}

/// Checks a parsed filter against the group's datasets (`columns` of each type it has):
/// one dataset per stage, the datasets its target allows, only `EVENT_TYPE` of
/// interactions, columns the schemas have, `CurrentItem` for items only, and at most
/// [`MAX_FIELDS`] fields. Returns the filter's target.
pub fn check(
    f: &Filter,
    columns: impl Fn(DatasetType) -> Option<Vec<String>>,
) -> Result<Target, ParseError> {
    let target = f.stages[0].target;
    let mut fields: Vec<(Dataset, String)> = Vec::new();
    for s in &f.stages {
        if s.target != target {
            return Err(error(
                "every stage of a filter filters the same thing (ItemID, ActionID or UserID)"
                    .into(),
                s.at,
            ));
        }
        let first = s.any_of[0][0].field.dataset;
        let allowed: &[Dataset] = match target {
            Target::ItemId => &[Dataset::Items, Dataset::Interactions],
            Target::ActionId => &[Dataset::Actions, Dataset::ActionInteractions],
            Target::UserId => &[Dataset::Users, Dataset::Interactions],
        };
        let conds = s.any_of.iter().flatten();
        let users = s.only_if.iter().map(|u| (&u.field, &u.test, u.at));
        for (field, test, at) in conds.map(|c| (&c.field, &c.test, c.at)).chain(users) {
            let d = field.dataset;
            if !d.is_current() && d != first {
                return Err(error(
                    format!(
                        "{} and {} cannot share one expression: chain them with |",
                        first.as_str(),
                        d.as_str()
                    ),
                    at,
                ));
            }
            if !d.is_current() && !allowed.contains(&d) {
                return Err(error(
                    format!("{} does not filter by {}", target_name(target), d.as_str()),
                    at,
                ));
            }
            if d.is_interactions() && field.column != "EVENT_TYPE" {
                return Err(error(
                    format!(
                        "{} filters test EVENT_TYPE only, not {}",
                        d.as_str(),
                        field.column
                    ),
                    at,
                ));
            }
            let mut all = vec![field];
            if let Test::In(Values::Current(c))
            | Test::NotIn(Values::Current(c))
            | Test::Cmp(_, Values::Current(c)) = test
            {
                all.push(c);
            }
            for field in all {
                if field.dataset == Dataset::CurrentItem && target != Target::ItemId {
                    return Err(error("CurrentItem is for item filters".into(), at));
                }
                let t = field.dataset.dataset_type();
                let Some(cols) = columns(t) else {
                    return Err(error(
                        format!(
                            "the dataset group has no {t} dataset for {}",
                            field.dataset.as_str()
                        ),
                        at,
                    ));
                };
                if !cols.iter().any(|c| c == &field.column) {
                    return Err(error(
                        format!("the {t} dataset has no field {}", field.column),
                        at,
                    ));
                }
                let key = (field.dataset, field.column.clone());
                if !fields.contains(&key) {
                    fields.push(key);
                }
            }
        }
    }
    if fields.len() > MAX_FIELDS {
        return Err(error(
            format!(
                "a filter uses at most {MAX_FIELDS} distinct fields, not {}",
                fields.len()
            ),
            1,
        ));
    }
    Ok(target)
}

fn target_name(t: Target) -> &'static str {
    match t {
        Target::ItemId => "ItemID",
        Target::ActionId => "ActionID",
        Target::UserId => "UserID",
    }
}

/// A parameter's value as a request gives it: `"\"a\",\"b\""` (quoted strings) or `"1,2"`
/// (numbers), comma-separated.
fn param_values(raw: &str) -> Vec<Literal> {
    let mut out = Vec::new();
    let mut chars = raw.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        if c == '"' {
            chars.next();
            let mut s = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.extend(chars.next()),
                    '"' => break,
                    c => s.push(c),
                }
            }
            out.push(Literal::Str(s));
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            let s = s.trim();
            out.push(match s.parse::<f64>() {
                Ok(n) => Literal::Num(n),
                Err(_) => Literal::Str(s.to_owned()),
            });
        }
        if chars.next().is_none() {
            break;
        }
    }
    out
}

fn bound(test: &Test, values: &HashMap<String, String>) -> Result<Test, String> {
    let bind = |v: &Values| match v {
        Values::Param(p) => values
            .get(p)
            .map(|raw| Values::List(param_values(raw)))
            .ok_or_else(|| p.clone()),
        other => Ok(other.clone()),
    };
    Ok(match test {
        Test::In(v) => Test::In(bind(v)?),
        Test::NotIn(v) => Test::NotIn(bind(v)?),
        Test::Cmp(c, v) => Test::Cmp(*c, bind(v)?),
    })
}

/// The filter with its parameters replaced by `values`: an INCLUDE stage needs all of its
/// parameters (else the error names the missing one); an EXCLUDE stage's condition or IF
/// test whose parameter is missing is left out, and a stage left with no condition is
/// dropped.
pub fn bind(f: &Filter, values: &HashMap<String, String>) -> Result<Filter, String> {
    let mut stages = Vec::new();
    for s in &f.stages {
        let include = s.action == Action::Include;
        let mut any_of = Vec::new();
        for group in &s.any_of {
            let mut all = Vec::new();
            for c in group {
                match bound(&c.test, values) {
                    Ok(test) => all.push(Cond { test, ..c.clone() }),
                    Err(p) if include => return Err(p),
                    Err(_) => {}
                }
            }
            if !all.is_empty() {
                any_of.push(all);
            }
        }
        let mut only_if = Vec::new();
        for u in &s.only_if {
            match bound(&u.test, values) {
                Ok(test) => only_if.push(UserTest { test, ..u.clone() }),
                Err(p) if include => return Err(p),
                Err(_) => {}
            }
        }
        if !any_of.is_empty() {
            stages.push(Stage {
                any_of,
                only_if,
                ..s.clone()
            });
        }
    }
    Ok(Filter { stages })
}

/// The parameters a filter names, in order of appearance.
pub fn params(f: &Filter) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let tests = f.stages.iter().flat_map(|s| {
        s.any_of
            .iter()
            .flatten()
            .map(|c| &c.test)
            .chain(s.only_if.iter().map(|u| &u.test))
    });
    for t in tests {
        if let Test::In(Values::Param(p))
        | Test::NotIn(Values::Param(p))
        | Test::Cmp(_, Values::Param(p)) = t
        {
            if !out.contains(&p.as_str()) {
                out.push(p);
            }
        }
    }
    out
}

/// Whether the filter reads the datasets of type `t` (so a request must read them).
pub fn reads(f: &Filter, d: Dataset) -> bool {
    f.stages.iter().any(|s| {
        s.any_of.iter().flatten().any(|c| {
            c.field.dataset == d
                || matches!(&c.test, Test::In(Values::Current(x)) | Test::NotIn(Values::Current(x)) | Test::Cmp(_, Values::Current(x)) if x.dataset == d)
        }) || s.only_if.iter().any(|u| u.field.dataset == d)
    })
}
