//! Dataset schemas: the Avro record a dataset's columns come from, and the fields each
//! dataset type requires.
//!
//! A schema is parsed by `apache-avro`, then flattened to the columns a CSV file of the
//! dataset has: one per field, in order, each a primitive type, optionally nullable.

use std::fmt;

use apache_avro::Schema as Avro;

use super::DatasetType;
use super::MAX_ID_CHARS;

/// The Avro types a field of a Personalize schema may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// `string`
    String,
    /// `int` (32 bits)
    Int,
    /// `long` (64 bits)
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `boolean`
    Boolean,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::Long => "long",
            FieldType::Float => "float",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
        })
    }
}

/// One field of a schema: a column of its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's name: the CSV header of its column.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// True for a union with `null`: the value may be empty.
    pub nullable: bool,
}

impl Field {
    /// Checks one CSV value against the field: an empty value is null, allowed only for a
    /// nullable field; others must parse as the field's type; IDs are at most 256 characters.
    pub fn check_value(&self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return if self.nullable {
                Ok(())
            } else {
                Err(format!(
                    "the value is empty, but the field is not nullable ({})",
                    self.ty
                ))
            };
        }
        let ok = match self.ty {
            FieldType::String => {
                let chars = value.chars().count();
                if self.name.ends_with("_ID") && chars > MAX_ID_CHARS {
                    return Err(format!(
                        "the ID is {chars} characters long; IDs are 1 to {MAX_ID_CHARS} characters"
                    ));
                }
                true
            }
            FieldType::Int => value.parse::<i32>().is_ok(),
            FieldType::Long => value.parse::<i64>().is_ok(),
            FieldType::Float | FieldType::Double => value.parse::<f64>().is_ok_and(f64::is_finite),
            FieldType::Boolean => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
        };
        if ok {
            Ok(())
        } else {
            let shown: String = value.chars().take(64).collect();
            Err(format!("{shown:?} is not a valid {}", self.ty))
        }
    }
}

/// The required fields of a dataset type (name, type) and its reserved optional ones
/// (name, the types allowed); every other field is metadata.
fn reserved(t: DatasetType) -> (&'static [Required], &'static [Reserved]) {
    use FieldType::*;
    match t {
        DatasetType::Interactions => (
            &[
                ("USER_ID", String),
                ("ITEM_ID", String),
                ("TIMESTAMP", Long),
            ],
            &[
                ("EVENT_TYPE", &[String]),
                ("EVENT_VALUE", &[Float, Double]),
                ("IMPRESSION", &[String]),
                ("RECOMMENDATION_ID", &[String]),
            ],
        ),
        DatasetType::Items => (&[("ITEM_ID", String)], &[("CREATION_TIMESTAMP", &[Long])]),
        DatasetType::Users => (&[("USER_ID", String)], &[]),
        DatasetType::Actions => (&[("ACTION_ID", String)], &[("CREATION_TIMESTAMP", &[Long])]),
        DatasetType::ActionInteractions => (
            &[
                ("USER_ID", String),
                ("ACTION_ID", String),
                ("TIMESTAMP", Long),
                ("EVENT_TYPE", String),
            ],
            &[("IMPRESSION", &[String]), ("RECOMMENDATION_ID", &[String])],
        ),
    }
}

/// True for a metadata field of a dataset type `t` (neither required nor reserved): the one
/// kind of field whose empty values a bulk import stores as null even when the schema does
/// not make it nullable (AWS: "metadata with blank values").
pub fn is_metadata(t: DatasetType, name: &str) -> bool {
    let (required, optional) = reserved(t);
    !required.iter().any(|r| r.0 == name) && !optional.iter().any(|r| r.0 == name)
}

/// The fields of a schema, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// Parses an Avro schema given as JSON text. It must be a record whose fields all have
    /// one of the types of [`FieldType`], or a union of one of them with `null`.
    pub fn parse(avro: &str) -> Result<Fields, String> {
        let schema =
            Avro::parse_str(avro).map_err(|e| format!("the schema is not valid Avro: {e}"))?;
        let Avro::Record(record) = schema else {
            return Err("the schema must be an Avro record (\"type\": \"record\")".to_owned());
        };
        if record.fields.is_empty() {
            return Err("the schema's record has no fields".to_owned());
        }
        let fields = record
            .fields
            .iter()
            .map(|f| {
                let (ty, nullable) = field_type(&f.schema).ok_or_else(|| {
                    format!(
                        "the field {} has an unsupported type; fields are string, int, long, float, double or boolean, optionally in a union with null",
                        f.name
                    )
                })?;
                crate::store::validate_column(&f.name)?;
                Ok(Field {
                    name: f.name.clone(),
                    ty,
                    nullable,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Fields(fields))
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|f| f.name.clone()).collect()
    }

    fn get(&self, name: &str) -> Option<&Field> {
        self.0.iter().find(|f| f.name == name)
    }

    /// Checks that a dataset of type `t` can use these fields: its required fields are
    /// present, not nullable, with the required types; reserved optional fields have theirs;
    /// metadata datasets have at least one field besides their id.
    pub fn check_for(&self, t: DatasetType) -> Result<(), String> {
        let (required, optional) = reserved(t);
        let unfit = |why: std::string::String| {
            format!("the schema does not fit the dataset type {t}: {why}")
        };
        for (name, ty) in required {
            match self.get(name) {
                None => return Err(unfit(format!("it needs a field {name} of type {ty}"))),
                Some(f) if f.ty != *ty || f.nullable => {
                    return Err(unfit(format!(
                        "the field {name} must be of type {ty}, not {}",
                        describe(f)
                    )))
                }
                Some(_) => {}
            }
        }
        for (name, types) in optional {
            if let Some(f) = self.get(name) {
                if !types.contains(&f.ty) {
                    let allowed: Vec<std::string::String> =
                        types.iter().map(ToString::to_string).collect();
                    return Err(unfit(format!(
                        "the field {name} must be of type {}, not {}",
                        allowed.join(" or "),
                        describe(f)
                    )));
                }
            }
        }
        let metadata_type = matches!(
            t,
            DatasetType::Items | DatasetType::Users | DatasetType::Actions
        );
        if metadata_type && self.0.len() < 2 {
            return Err(unfit(format!(
                "it needs at least one metadata field besides {}",
                t.key_column()
            )));
        }
        Ok(())
    }
}

/// A field a dataset type needs, with its type.
type Required = (&'static str, FieldType);

/// A field a dataset type may have, with the types it may take.
type Reserved = (&'static str, &'static [FieldType]);

fn describe(f: &Field) -> String {
    if f.nullable {
        format!("[{}, null]", f.ty)
    } else {
        f.ty.to_string()
    }
}

fn primitive(s: &Avro) -> Option<FieldType> {
    Some(match s {
        Avro::String => FieldType::String,
        Avro::Int => FieldType::Int,
        Avro::Long => FieldType::Long,
        Avro::Float => FieldType::Float,
        Avro::Double => FieldType::Double,
        Avro::Boolean => FieldType::Boolean,
        _ => return None,
    })
}

fn field_type(s: &Avro) -> Option<(FieldType, bool)> {
    if let Avro::Union(u) = s {
        let variants = u.variants();
        let nullable = variants.iter().any(|v| matches!(v, Avro::Null));
        let types: Vec<&Avro> = variants
            .iter()
            .filter(|v| !matches!(v, Avro::Null))
            .collect();
        return match types.as_slice() {
            [one] => primitive(one).map(|t| (t, nullable)),
            _ => None,
        };
    }
    primitive(s).map(|t| (t, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> String {
        format!(
            r#"{{"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", "fields": [{fields}], "version": "1.0"}}"#
        )
    }

    const INTERACTIONS: &str = r#"{"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_VALUE", "type": ["float", "null"]}"#;

    #[test]
    fn fields_keep_order_type_and_nullability() {
        let f = Fields::parse(&record(INTERACTIONS)).unwrap();
        assert_eq!(
            f.names(),
            ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_VALUE"]
        );
        assert_eq!(
            f.0[3],
            Field {
                name: "EVENT_VALUE".into(),
                ty: FieldType::Float,
                nullable: true
            }
        );
        assert_eq!(f.check_for(DatasetType::Interactions), Ok(()));
    }

    #[test]
    fn what_is_not_a_personalize_schema_is_refused() {
        for (avro, expected) in [
            ("{not json".to_owned(), "not valid Avro"),
            (r#""string""#.to_owned(), "must be an Avro record"),
            (record(""), "no fields"),
            (
                record(r#"{"name": "TAGS", "type": {"type": "array", "items": "string"}}"#),
                "the field TAGS has an unsupported type",
            ),
            (
                record(r#"{"name": "X", "type": ["string", "int"]}"#),
                "the field X has an unsupported type",
            ),
            (
                record(r#"{"name": "X", "type": "strin"}"#),
                "not valid Avro",
            ),
        ] {
            let err = Fields::parse(&avro).unwrap_err();
            assert!(err.contains(expected), "{avro}: {err}");
        }
    }

    #[test]
    fn values_are_checked_against_their_field() {
        let f = Fields::parse(&record(
            r#"{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": ["null", "int"]},
               {"name": "SCORE", "type": "double"}, {"name": "VIP", "type": "boolean"},
               {"name": "SEEN", "type": "long"}"#,
        ))
        .unwrap();
        let [id, age, score, vip, seen] = &f.0[..] else {
            panic!("{f:?}")
        };
        assert_eq!(id.check_value("u1"), Ok(()));
        assert!(id.check_value("").unwrap_err().contains("not nullable"));
        assert_eq!(id.check_value(&"x".repeat(256)), Ok(()));
        assert!(id
            .check_value(&"x".repeat(257))
            .unwrap_err()
            .contains("257 characters"));
        assert_eq!(age.check_value(""), Ok(()));
        assert_eq!(age.check_value("-7"), Ok(()));
        assert_eq!(
            age.check_value("2147483648"),
            Err("\"2147483648\" is not a valid int".into())
        );
        assert_eq!(score.check_value("1.5e3"), Ok(()));
        assert_eq!(
            score.check_value("NaN"),
            Err("\"NaN\" is not a valid double".into())
        );
        assert_eq!(vip.check_value("TRUE"), Ok(()));
        assert_eq!(
            vip.check_value("yes"),
            Err("\"yes\" is not a valid boolean".into())
        );
        assert_eq!(seen.check_value("1735689600"), Ok(()));
        assert_eq!(
            seen.check_value("1.5"),
            Err("\"1.5\" is not a valid long".into())
        );
    }

    #[test]
    fn each_type_requires_its_fields() {
        let f = Fields::parse(&record(INTERACTIONS)).unwrap();
        let err = f.check_for(DatasetType::ActionInteractions).unwrap_err();
        assert!(
            err.contains("needs a field ACTION_ID of type string"),
            "{err}"
        );
        let err = f.check_for(DatasetType::Actions).unwrap_err();
        assert!(
            err.starts_with("the schema does not fit the dataset type Actions"),
            "{err}"
        );
        // Any record with an ITEM_ID string and one more field fits Items.
        assert_eq!(f.check_for(DatasetType::Items), Ok(()));

        let users_only_id =
            Fields::parse(&record(r#"{"name": "USER_ID", "type": "string"}"#)).unwrap();
        let err = users_only_id.check_for(DatasetType::Users).unwrap_err();
        assert!(
            err.contains("at least one metadata field besides USER_ID"),
            "{err}"
        );

        let int_timestamp = Fields::parse(&record(
            r#"{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "int"}"#,
        ))
        .unwrap();
        let err = int_timestamp
            .check_for(DatasetType::Interactions)
            .unwrap_err();
        assert!(
            err.contains("TIMESTAMP must be of type long, not int"),
            "{err}"
        );

        let nullable_id = Fields::parse(&record(
            r#"{"name": "ITEM_ID", "type": ["null", "string"]}, {"name": "PRICE", "type": "double"}"#,
        ))
        .unwrap();
        let err = nullable_id.check_for(DatasetType::Items).unwrap_err();
        assert!(
            err.contains("ITEM_ID must be of type string, not [string, null]"),
            "{err}"
        );

        let bad_event_value = Fields::parse(&record(
            r#"{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_VALUE", "type": "string"}"#,
        ))
        .unwrap();
        let err = bad_event_value
            .check_for(DatasetType::Interactions)
            .unwrap_err();
        assert!(
            err.contains("EVENT_VALUE must be of type float or double"),
            "{err}"
        );
    }
}
