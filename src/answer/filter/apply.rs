//! A bound filter applied to one candidate, given what the request read: the candidates'
//! records, the items the user interacted with (by event type), the user's and the item's
//! records. Pure: the API reads the facts, this decides.

use std::collections::HashMap;

use super::{Action, Cmp, Cond, Dataset, Filter, Literal, Test, Values};
use crate::answer::history::History;

/// One record's values by column name.
pub type Record = HashMap<String, String>;

/// How many latest interactions of each event type a filter sees, as the service documents.
pub const HISTORY_PER_TYPE: usize = 100;

/// What a filter reads.
#[derive(Debug, Default)]
pub struct Facts {
    /// The candidates' records (items, actions or users), by ID.
    pub candidates: HashMap<String, Record>,
    /// The event types (lower-cased) of the user's latest interactions with each item.
    pub interacted: HashMap<String, Vec<String>>,
    /// The request's user's record.
    pub user: Option<Record>,
    /// The request's item's record.
    pub item: Option<Record>,
}

impl Facts {
    /// Notes the user's history: the latest [`HISTORY_PER_TYPE`] interactions of each type.
    pub fn with_history(mut self, h: &History) -> Self {
        let mut per_type: HashMap<String, usize> = HashMap::new();
        for e in h.events.iter().rev() {
            let t = e.event_type.to_lowercase();
            let n = per_type.entry(t.clone()).or_default();
            if *n == HISTORY_PER_TYPE {
                continue;
            }
            *n += 1;
            let types = self.interacted.entry(e.item.clone()).or_default();
            if !types.contains(&t) {
                types.push(t);
            }
        }
        self
    }
}

/// A field's values: a categorical field's `|`-separated values each.
fn values_of(r: Option<&Record>, column: &str) -> Vec<String> {
    r.and_then(|r| r.get(column))
        .filter(|v| !v.is_empty())
        .map(|v| v.split('|').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn literal_matches(l: &Literal, v: &str, fold_case: bool) -> bool {
    match l {
        Literal::Any => true,
        Literal::Str(s) if fold_case => s.eq_ignore_ascii_case(v),
        Literal::Str(s) => s == v,
        Literal::Num(n) => v.trim().parse::<f64>().is_ok_and(|x| x == *n),
    }
}

/// Whether values `have` pass `test`, with the current records for `Current` fields.
fn passes(test: &Test, have: &[String], facts: &Facts, fold_case: bool) -> bool {
    let current = |f: &super::Field| match f.dataset {
        Dataset::CurrentItem => values_of(facts.item.as_ref(), &f.column),
        _ => values_of(facts.user.as_ref(), &f.column),
    };
    let any_in = |v: &Values| match v {
        Values::List(list) => have
            .iter()
            .any(|h| list.iter().any(|l| literal_matches(l, h, fold_case))),
        Values::Current(f) => {
            let theirs = current(f);
            have.iter().any(|h| theirs.contains(h))
        }
        // Bound filters hold no parameter.
        Values::Param(_) => false,
    };
    match test {
        Test::In(v) => any_in(v),
        Test::NotIn(v) => !have.is_empty() && !any_in(v),
        Test::Cmp(cmp, v) => {
            let other = match v {
                Values::List(l) => match l.first() {
                    Some(Literal::Num(n)) => Some(*n),
                    Some(Literal::Str(s)) if *cmp == Cmp::Eq => {
                        return have.iter().any(|h| h == s);
                    }
                    _ => None,
                },
                Values::Current(f) => current(f).first().and_then(|x| x.trim().parse().ok()),
                Values::Param(_) => None,
            };
            let Some(other) = other else { return false };
            have.iter()
                .filter_map(|h| h.trim().parse::<f64>().ok())
                .any(|x| cmp.holds(x, other))
        }
    }
}

fn cond_holds(c: &Cond, id: &str, facts: &Facts) -> bool {
    match c.field.dataset {
        Dataset::Interactions | Dataset::ActionInteractions => {
            let types = facts.interacted.get(id).cloned().unwrap_or_default();
            passes(&c.test, &types, facts, true)
        }
        _ => {
            let have = values_of(facts.candidates.get(id), &c.field.column);
            passes(&c.test, &have, facts, false)
        }
    }
}

/// Whether the bound filter `f` keeps the candidate `id`.
pub fn keeps(f: &Filter, id: &str, facts: &Facts) -> bool {
    f.stages.iter().all(|s| {
        let applies = s.only_if.iter().all(|u| {
            passes(
                &u.test,
                &values_of(facts.user.as_ref(), &u.field.column),
                facts,
                false,
            )
        });
        if !applies {
            return true;
        }
        let matched = s
            .any_of
            .iter()
            .any(|all| all.iter().all(|c| cond_holds(c, id, facts)));
        match s.action {
            Action::Include => matched,
            Action::Exclude => !matched,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::{bind, check, params, parse, Target};
    use super::*;
    use crate::answer::history::Interaction;
    use crate::store::DatasetType;

    fn record(pairs: &[(&str, &str)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn facts(user: Option<&Record>, item: Option<&Record>) -> Facts {
        let (user, item) = (user.cloned(), item.cloned());
        let mut candidates = HashMap::new();
        candidates.insert(
            "i1".into(),
            record(&[("GENRE", "drama|comedy"), ("PRICE", "10")]),
        );
        candidates.insert("i2".into(), record(&[("GENRE", "horror"), ("PRICE", "30")]));
        candidates.insert("i3".into(), record(&[("GENRE", "drama"), ("PRICE", "25")]));
        let history = History {
            events: vec![
                Interaction {
                    item: "i2".into(),
                    event_type: "Click".into(),
                    time: 1,
                },
                Interaction {
                    item: "i3".into(),
                    event_type: "purchase".into(),
                    time: 2,
                },
            ],
        };
        Facts {
            candidates,
            user,
            item,
            ..Facts::default()
        }
        .with_history(&history)
    }

    fn kept(expr: &str, values: &[(&str, &str)], facts: &Facts) -> Vec<&'static str> {
        let f = parse(expr).unwrap();
        let values: HashMap<String, String> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let f = bind(&f, &values).unwrap();
        ["i1", "i2", "i3"]
            .into_iter()
            .filter(|i| keeps(&f, i, facts))
            .collect()
    }

    #[test]
    fn filters_keep_what_they_say() {
        let f = facts(None, None);
        assert_eq!(
            kept(r#"INCLUDE ItemID WHERE Items.GENRE IN ("drama")"#, &[], &f),
            ["i1", "i3"]
        );
        assert_eq!(
            kept(r#"EXCLUDE ItemID WHERE Items.GENRE IN ("drama")"#, &[], &f),
            ["i2"]
        );
        assert_eq!(
            kept(
                r#"exclude itemId where INTERACTIONS.event_type in ("click")"#,
                &[],
                &f
            ),
            ["i1", "i3"]
        );
        assert_eq!(
            kept(
                r#"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")"#,
                &[],
                &f
            ),
            ["i1", "i2", "i3"]
        );
        assert_eq!(
            kept(
                r#"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)"#,
                &[],
                &f
            ),
            ["i1"]
        );
        assert_eq!(
            kept("INCLUDE ItemID WHERE Items.PRICE < 26", &[], &f),
            ["i1", "i3"]
        );
        assert_eq!(
            kept(
                "INCLUDE ItemID WHERE Items.PRICE >= $MIN",
                &[("MIN", "25")],
                &f
            ),
            ["i2", "i3"]
        );
        assert_eq!(
            kept(
                "INCLUDE ItemID WHERE Items.GENRE IN ($G)",
                &[("G", "\"horror\",\"comedy\"")],
                &f
            ),
            ["i1", "i2"]
        );
        // A missing EXCLUDE parameter drops its clause.
        assert_eq!(
            kept("EXCLUDE ItemID WHERE Items.GENRE IN ($G)", &[], &f),
            ["i1", "i2", "i3"]
        );
        // AND binds tighter than OR; chains apply one after another.
        assert_eq!(
            kept(
                r#"INCLUDE ItemID WHERE Items.GENRE IN ("horror") OR Items.GENRE IN ("drama") AND Items.PRICE > 20"#,
                &[],
                &f
            ),
            ["i2", "i3"]
        );
        assert_eq!(
            kept(
                r#"INCLUDE ItemID WHERE Items.GENRE IN ("drama") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase")"#,
                &[],
                &f
            ),
            ["i1"]
        );
        assert_eq!(
            kept(
                r#"INCLUDE ItemID WHERE Items.GENRE NOT IN ("drama")"#,
                &[],
                &f
            ),
            ["i2"]
        );
        // IF: the stage applies only to users who pass.
        let adult = record(&[("AGE", "40")]);
        let young = record(&[("AGE", "20")]);
        let expr = "EXCLUDE ItemID WHERE Items.PRICE > 20 IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 30";
        assert_eq!(kept(expr, &[], &facts(Some(&young), None)), ["i1"]);
        assert_eq!(
            kept(expr, &[], &facts(Some(&adult), None)),
            ["i1", "i2", "i3"]
        );
        assert_eq!(kept(expr, &[], &facts(None, None)), ["i1", "i2", "i3"]);
        // CurrentItem: like the request's item.
        let current = record(&[("GENRE", "comedy|horror"), ("PRICE", "26")]);
        let f = facts(None, Some(&current));
        assert_eq!(
            kept("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE AND Items.PRICE < CurrentItem.PRICE", &[], &f),
            ["i1"]
        );
    }

    #[test]
    fn bad_expressions_say_what_and_where() {
        let err = |e: &str| parse(e).unwrap_err().to_string();
        assert_eq!(
            err("INCLUDE ItemID Items.GENRE IN (\"x\")"),
            "expected WHERE, found \"Items.GENRE\" (at position 16)"
        );
        assert!(err("INCLUDE ItemID WHERE Items.GENRE IN (\"x\"").contains(") or ,"));
        assert!(err("INCLUDE ItemID WHERE Stuff.GENRE IN (\"x\")")
            .contains("\"Stuff\" is not a dataset"));
        assert!(err("EXCLUDE ItemID WHERE Items.GENRE NOT IN ($G)")
            .contains("NOT IN takes no parameter"));
        assert!(
            err("INCLUDE ItemID WHERE Items.GENRE IN (\"x\") IF Items.PRICE > 1")
                .contains("IF tests CurrentUser")
        );
        assert!(err("INCLUDE ItemID WHERE Items.GENRE IN (\"x\") extra").contains("position 43"));
        assert!(err(&"x".repeat(2501)).contains("1 to 2500"));
        let cols = |t: DatasetType| match t {
            DatasetType::Items => Some(vec!["ITEM_ID".to_string(), "GENRE".to_string()]),
            DatasetType::Interactions => Some(vec![
                "USER_ID".into(),
                "ITEM_ID".into(),
                "EVENT_TYPE".into(),
            ]),
            _ => None,
        };
        let checked = |e: &str| check(&parse(e).unwrap(), cols).map_err(|e| e.to_string());
        assert_eq!(
            checked(r#"INCLUDE ItemID WHERE Items.GENRE IN ("x")"#),
            Ok(Target::ItemId)
        );
        assert!(checked(r#"INCLUDE ItemID WHERE Items.COLOR IN ("x")"#)
            .unwrap_err()
            .contains("no field COLOR"));
        assert!(checked(
            r#"INCLUDE ItemID WHERE Items.GENRE IN ("x") AND Interactions.EVENT_TYPE IN ("x")"#
        )
        .unwrap_err()
        .contains("chain them with |"));
        assert!(
            checked(r#"EXCLUDE ItemID WHERE Interactions.ITEM_ID IN ("x")"#)
                .unwrap_err()
                .contains("EVENT_TYPE only")
        );
        assert!(
            checked(r#"EXCLUDE ItemID WHERE Items.GENRE IN ("x") IF CurrentUser.AGE > 3"#)
                .unwrap_err()
                .contains("no Users dataset")
        );
        let f = parse(
            "INCLUDE ItemID WHERE Items.GENRE IN ($A) | EXCLUDE ItemID WHERE Items.GENRE IN ($B)",
        )
        .unwrap();
        assert_eq!(params(&f), ["A", "B"]);
        assert_eq!(bind(&f, &HashMap::new()), Err("A".to_string()));
    }
}
