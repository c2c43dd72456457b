//! Records that arrive one by one: the real-time path of `personalize-events` (PutEvents,
//! PutUsers, PutItems, PutActions, PutActionInteractions).
//!
//! [`RowBuilder`] turns one event, user, item or action into a record of its dataset: the
//! request's own members fill their reserved columns, and the `properties` JSON fills the
//! others, its camel-case keys matched to the schema's field names (`numberOfRatings` is
//! `NUMBER_OF_RATINGS`), without regard to case or `_`. Every value is checked against its
//! field as an import checks it. [`commit::GroupCommit`] writes the records of many
//! requests in one store transaction.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Target`] and [`RowBuilder`]: from a request's members to a record |
//! | [`commit`] | group commit: one durable write for a burst of requests |

pub mod commit;

use serde_json::Value;

use crate::store::schema::Fields;
use crate::store::{Dataset, DatasetType, RowBatch};

/// The dataset records go to, with the fields its values are checked against.
#[derive(Debug, Clone)]
pub struct Target {
    /// The dataset's group.
    pub group_arn: String,
    /// The dataset's type.
    pub dataset_type: DatasetType,
    /// The dataset's columns, in order.
    pub columns: Vec<String>,
    /// The schema's fields (none for a dataset the `import` command made from a header:
    /// every column is then an optional string).
    pub fields: Option<Fields>,
}

impl Target {
    /// The target for `dataset`, whose schema has `fields`.
    pub fn new(dataset: &Dataset, fields: Option<Fields>) -> Self {
        Target {
            group_arn: dataset.dataset_group_arn.clone(),
            dataset_type: dataset.dataset_type,
            columns: dataset.columns.clone(),
            fields,
        }
    }

    /// A new, empty record.
    pub fn row(&self) -> RowBuilder<'_> {
        RowBuilder {
            target: self,
            values: vec![None; self.columns.len()],
        }
    }

    /// The column a `properties` key names, if any.
    fn column_of_key(&self, key: &str) -> Option<usize> {
        let wanted = squash(key);
        self.columns.iter().position(|c| squash(c) == wanted)
    }

    /// A batch of records for this dataset.
    pub fn batch(&self, rows: &[Vec<String>]) -> RowBatch {
        let mut batch = RowBatch::new(self.columns.len());
        for row in rows {
            batch.push_row(row.iter().map(String::as_str));
        }
        batch
    }
}

/// A name without `_`, lower-cased: how a property key and a field name are compared.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|&c| c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// One record being built.
#[derive(Debug)]
pub struct RowBuilder<'a> {
    target: &'a Target,
    values: Vec<Option<String>>,
}

impl RowBuilder<'_> {
    /// Sets the column named exactly `column`, if the dataset has it (a member whose
    /// reserved column the schema lacks is left out, as the service ignores it).
    pub fn set(&mut self, column: &str, value: impl Into<String>) {
        if let Some(i) = self.target.columns.iter().position(|c| c == column) {
            self.values[i] = Some(value.into());
        }
    }

    /// Fills columns from a `properties` member: a JSON object as text, whose keys name
    /// fields; `reserved` keys (case-insensitive) are refused, as is a key that names no
    /// field or one already set. Values are strings, numbers or booleans (null: no value).
    pub fn properties(&mut self, text: &str, reserved: &[&str]) -> Result<(), String> {
        let map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("is not a JSON object".to_owned()),
            Err(e) => return Err(format!("is not valid JSON: {e}")),
        };
        for (key, value) in map {
            if reserved.iter().any(|r| r.eq_ignore_ascii_case(&key)) {
                return Err(format!(
                    "has the key {key:?}, which is a member of its own and cannot be a property"
                ));
            }
            let Some(i) = self.target.column_of_key(&key) else {
                return Err(format!(
                    "has the key {key:?}, which names no field of the {} dataset's schema ({})",
                    self.target.dataset_type,
                    self.target.columns.join(", ")
                ));
            };
            if self.values[i].is_some() {
                return Err(format!(
                    "has the key {key:?}, whose field {} is already set",
                    self.target.columns[i]
                ));
            }
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!(
                        "has the key {key:?} with a list or object; values are strings, numbers or booleans"
                    ))
                }
            };
            self.values[i] = Some(text);
        }
        Ok(())
    }

    /// The record, in the dataset's column order (a column left unset is null), once every
    /// value fits its field: else what is wrong, naming the field.
    pub fn finish(self) -> Result<Vec<String>, String> {
        let values: Vec<String> = self
            .values
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        if let Some(fields) = &self.target.fields {
            for (column, value) in self.target.columns.iter().zip(&values) {
                if let Some(field) = fields.0.iter().find(|f| &f.name == column) {
                    field
                        .check_value(value)
                        .map_err(|why| format!("the field {column}: {why}"))?;
                }
            }
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DatasetAttrs;

    fn target() -> Target {
        let schema = r#"{"type": "record", "name": "Interactions", "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "NUMBER_OF_RATINGS", "type": ["null", "int"]}
        ]}"#;
        let fields = Fields::parse(schema).unwrap();
        let dataset = Dataset {
            dataset_group_arn: "arn:g".into(),
            dataset_type: DatasetType::Interactions,
            columns: fields.names(),
            attrs: DatasetAttrs::default(),
        };
        Target::new(&dataset, Some(fields))
    }

    #[test]
    fn properties_fill_fields_by_camel_case_name() {
        let t = target();
        let mut row = t.row();
        row.set("USER_ID", "u1");
        row.set("ITEM_ID", "i1");
        row.set("TIMESTAMP", "1700000000");
        row.set("EVENT_TYPE", "click");
        row.set("EVENT_VALUE", "4.5"); // no such column: left out
        row.properties(r#"{"numberOfRatings": 12}"#, &["userId"])
            .unwrap();
        assert_eq!(
            row.finish().unwrap(),
            vec!["u1", "i1", "1700000000", "click", "12"]
        );
        let mut row = t.row();
        row.properties(r#"{"NUMBER_of_ratings": "3"}"#, &[])
            .unwrap();
        assert!(row.finish().unwrap_err().contains("USER_ID"));
    }

    #[test]
    fn bad_properties_name_the_key_or_field() {
        let t = target();
        let why = |props: &str| {
            let mut row = t.row();
            row.set("ITEM_ID", "i1");
            row.properties(props, &["userId", "sessionId"]).unwrap_err()
        };
        assert!(why(r#"{"shoeSize": 4}"#).contains("\"shoeSize\""));
        assert!(why(r#"{"UserId": "x"}"#).contains("\"UserId\""));
        assert!(why(r#"{"itemId": "i2"}"#).contains("already set"));
        assert!(why(r#"[1]"#).contains("not a JSON object"));
        assert!(why(r#"{"a": "#).contains("not valid JSON"));
        let mut row = t.row();
        for (c, v) in [("USER_ID", "u"), ("ITEM_ID", "i"), ("EVENT_TYPE", "e")] {
            row.set(c, v);
        }
        row.set("TIMESTAMP", "1700000000");
        row.properties(r#"{"numberOfRatings": "many"}"#, &[])
            .unwrap();
        let why = row.finish().unwrap_err();
        assert!(
            why.contains("NUMBER_OF_RATINGS") && why.contains("int"),
            "{why}"
        );
    }
}
