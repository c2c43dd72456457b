//! The import's schema and value parsers: Avro schema text made from arbitrary fields (and
//! arbitrary text), then arbitrary values and values of each field's own type checked
//! against those fields.
//!
//! Then a header made of those fields in any order, with an unnamed column, a column
//! dropped or one added, matched to the schema by name.
//!
//! Checks: no panic; a generated schema parses to exactly its fields; a header in any order,
//! with an unnamed column or without a nullable field, maps each value to its own field, and
//! one with an unknown column or without a required field is refused; a value written from
//! its field's type is accepted, an out-of-range or non-numeric one refused; an empty value
//! is accepted exactly when the field is nullable; any text fits a string field that is not
//! an ID.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use personalize_local::import::columns::{map_header, Column};
use personalize_local::store::schema::{Field, FieldType, Fields};

const NAMES: [&str; 10] = [
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "EVENT_VALUE",
    "AGE",
    "PRICE",
    "GENRES",
    "_RATING",
    "FLAG2",
];

#[derive(Debug, Arbitrary)]
enum Ty {
    String,
    Int,
    Long,
    Float,
    Double,
    Boolean,
}

#[derive(Debug, Arbitrary)]
struct GenField {
    name: u8,
    ty: Ty,
    nullable: bool,
    null_first: bool,
}

#[derive(Debug, Arbitrary)]
enum Value {
    Int(i32),
    Long(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    fields: Vec<GenField>,
    values: Vec<Value>,
    raw_schema: String,
    /// The header's order: each picks one of the columns left (modulo their count).
    order: Vec<u8>,
    /// Where an unnamed column goes, if anywhere.
    unnamed_at: Option<u8>,
    /// A column name to add to the header, or to drop from it.
    extra: Option<String>,
    drop: Option<u8>,
}

fn field_type(ty: &Ty) -> (FieldType, &'static str) {
    match ty {
        Ty::String => (FieldType::String, "string"),
        Ty::Int => (FieldType::Int, "int"),
        Ty::Long => (FieldType::Long, "long"),
        Ty::Float => (FieldType::Float, "float"),
        Ty::Double => (FieldType::Double, "double"),
        Ty::Boolean => (FieldType::Boolean, "boolean"),
    }
}

fuzz_target!(|input: Input| {
    // Arbitrary text: an error or a schema, never a panic.
    if let Ok(fields) = Fields::parse(&input.raw_schema) {
        for value in &input.values {
            if let Value::Text(s) = value {
                for f in &fields.0 {
                    let _ = f.check_value(s);
                }
            }
        }
    }

    let mut seen = Vec::new();
    let mut want = Vec::new();
    let mut avro = Vec::new();
    for f in &input.fields {
        let name = NAMES[f.name as usize % NAMES.len()];
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let (ty, avro_ty) = field_type(&f.ty);
        let ty_json = match (f.nullable, f.null_first) {
            (false, _) => format!("\"{avro_ty}\""),
            (true, true) => format!("[\"null\", \"{avro_ty}\"]"),
            (true, false) => format!("[\"{avro_ty}\", \"null\"]"),
        };
        avro.push(format!("{{\"name\": \"{name}\", \"type\": {ty_json}}}"));
        want.push(Field {
            name: name.to_owned(),
            ty,
            nullable: f.nullable,
        });
    }
    if want.is_empty() {
        return;
    }
    let text = format!(
        "{{\"type\": \"record\", \"name\": \"R\", \"namespace\": \"com.example\", \"fields\": [{}]}}",
        avro.join(", ")
    );
    let fields = Fields::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(fields.0, want);

    // A header listing the fields in any order, an unnamed column anywhere, maps back to
    // the schema's order; an unknown name or a missing required field is refused.
    let columns: Vec<Column> = fields
        .0
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            required: !f.nullable,
        })
        .collect();
    let mut left: Vec<usize> = (0..columns.len()).collect();
    let mut header_of = Vec::new();
    for pick in input.order.iter().copied().chain(std::iter::repeat(0)) {
        if left.is_empty() {
            break;
        }
        header_of.push(left.remove(pick as usize % left.len()));
    }
    let mut header: Vec<String> = header_of.iter().map(|&i| columns[i].name.clone()).collect();
    let mut dropped = None;
    if let Some(d) = input.drop {
        let at = d as usize % header.len();
        dropped = Some(header_of.remove(at));
        header.remove(at);
    }
    let unnamed = input.unnamed_at.map(|u| u as usize % (header.len() + 1));
    if let Some(at) = unnamed {
        header.insert(at, String::new());
    }
    let extra = input
        .extra
        .filter(|e| !e.is_empty() && !columns.iter().any(|c| &c.name == e));
    if let Some(e) = &extra {
        header.push(e.clone());
    }
    let mapped = map_header(&header, &columns);
    let dropped_required = dropped.is_some_and(|d| columns[d].required);
    match (&extra, dropped_required) {
        (None, false) => {
            let map = mapped.unwrap_or_else(|e| panic!("{header:?}: {e}"));
            // Each column's value is its own name: the row must list them in schema order.
            let values: Vec<&str> = header.iter().map(String::as_str).collect();
            let row: Vec<&str> = map.row(&values).collect();
            for (c, v) in columns.iter().zip(&row) {
                if Some(c) == dropped.map(|d| &columns[d]) {
                    assert_eq!(*v, "", "{header:?}");
                } else {
                    assert_eq!(*v, c.name, "{header:?}");
                }
            }
        }
        _ => assert!(mapped.is_err(), "{header:?} accepted"),
    }

    for field in &fields.0 {
        assert_eq!(field.check_value("").is_ok(), field.nullable);
        for value in &input.values {
            let text = match value {
                Value::Int(v) => v.to_string(),
                Value::Long(v) => v.to_string(),
                Value::Float(v) => v.to_string(),
                Value::Bool(v) => if *v { "TRUE" } else { "false" }.to_owned(),
                Value::Text(s) => s.clone(),
            };
            let verdict = field.check_value(&text);
            // A value of the field's own type always passes.
            let own = match (field.ty, value) {
                (FieldType::Int, Value::Int(_))
                | (FieldType::Long, Value::Int(_) | Value::Long(_))
                | (FieldType::Boolean, Value::Bool(_)) => true,
                (FieldType::Float | FieldType::Double, Value::Float(v)) => v.is_finite(),
                _ => false,
            };
            if own {
                assert!(
                    verdict.is_ok(),
                    "{text:?} refused as {field:?}: {verdict:?}"
                );
            }
            match (field.ty, value) {
                (FieldType::Int, Value::Long(v)) => {
                    assert_eq!(verdict.is_ok(), i32::try_from(*v).is_ok(), "{text} as int")
                }
                // Text with a character no number has is refused by every numeric type.
                (
                    FieldType::Int | FieldType::Long | FieldType::Float | FieldType::Double,
                    Value::Text(s),
                ) if s
                    .chars()
                    .any(|c| !c.is_ascii_alphanumeric() && !"+-.".contains(c)) =>
                {
                    assert!(verdict.is_err(), "{text:?} accepted as {field:?}")
                }
                (FieldType::String, Value::Text(s))
                    if !s.is_empty() && !field.name.ends_with("_ID") =>
                {
                    assert!(verdict.is_ok(), "{s:?} refused as {field:?}")
                }
                _ => {}
            }
        }
    }
});
