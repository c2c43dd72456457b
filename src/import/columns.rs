//! Matching an import file's header to the dataset's columns, by name.
//!
//! The service matches columns by name, in any order: AWS's own sample notebooks import
//! files whose header lists the schema's fields in another order, and one whose first column
//! is pandas' unnamed index. So a file's columns are mapped to the dataset's:
//! - a column with an empty name (an unnamed index) is left out;
//! - a named column that is not one of the dataset's fails the import, naming it (a typo
//!   would otherwise drop its values without a word), as does a name given twice;
//! - a required column (a field that is not nullable; without a schema, every column) the
//!   header lacks fails the import, naming it; a nullable one it lacks is null in every row.

/// A dataset column a file may fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Whether every file must have it.
    pub required: bool,
}

impl Column {
    /// A column every file must have.
    pub fn required(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            required: true,
        }
    }
}

/// Where each of the dataset's columns comes from in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// For each of the dataset's columns, in order, the file's column holding it; `None`:
    /// null in every row.
    pub sources: Vec<Option<usize>>,
    /// How many columns the file's records have.
    pub width: usize,
}

impl HeaderMap {
    /// A record's values in the dataset's column order (null as the empty string).
    pub fn row<'a>(&'a self, fields: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
        self.sources.iter().map(|s| s.map_or("", |i| fields[i]))
    }
}

/// The named columns of a header, in order: the columns of a dataset the file creates.
pub fn named(header: &[String]) -> Vec<String> {
    header.iter().filter(|h| !h.is_empty()).cloned().collect()
}

/// Maps `header` to `columns`, or says why it cannot (what follows "the header ...").
pub fn map_header(header: &[String], columns: &[Column]) -> Result<HeaderMap, String> {
    for (i, h) in header.iter().enumerate() {
        if !h.is_empty() && header[..i].contains(h) {
            return Err(format!("names the column {h} twice"));
        }
    }
    if let Some(extra) = header
        .iter()
        .find(|h| !h.is_empty() && !columns.iter().any(|c| &c.name == *h))
    {
        return Err(format!(
            "has the column {extra}, which is not a column of the dataset ({})",
            names(columns)
        ));
    }
    let sources: Vec<Option<usize>> = columns
        .iter()
        .map(|c| header.iter().position(|h| *h == c.name))
        .collect();
    let missing: Vec<&str> = columns
        .iter()
        .zip(&sources)
        .filter(|(c, s)| c.required && s.is_none())
        .map(|(c, _)| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(format!(
            "lacks the required column{s} {} (the dataset's columns: {})",
            missing.join(", "),
            names(columns)
        ));
    }
    Ok(HeaderMap {
        sources,
        width: header.len(),
    })
}

fn names(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    fn columns(spec: &[(&str, bool)]) -> Vec<Column> {
        spec.iter()
            .map(|&(name, required)| Column {
                name: name.into(),
                required,
            })
            .collect()
    }

    #[test]
    fn columns_are_matched_by_name_in_any_order() {
        let schema = columns(&[
            ("USER_ID", true),
            ("ITEM_ID", true),
            ("EVENT_TYPE", true),
            ("TIMESTAMP", true),
        ]);
        // The order of AWS's getting-started notebook.
        let map = map_header(&header("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"), &schema).unwrap();
        assert_eq!(map.sources, [Some(0), Some(1), Some(3), Some(2)]);
        let fields = ["u1", "i1", "1700000000", "click"];
        let row: Vec<&str> = map.row(&fields).collect();
        assert_eq!(row, ["u1", "i1", "click", "1700000000"]);
        // pandas' unnamed index first, as the ecommerce notebook writes it.
        let map = map_header(&header(",ITEM_ID,USER_ID,EVENT_TYPE,TIMESTAMP"), &schema).unwrap();
        assert_eq!(map.width, 5);
        let fields = ["0", "i1", "u1", "click", "1700000000"];
        let row: Vec<&str> = map.row(&fields).collect();
        assert_eq!(row, ["u1", "i1", "click", "1700000000"]);
    }

    #[test]
    fn a_missing_nullable_column_is_null_and_the_rest_fail_by_name() {
        let schema = columns(&[("USER_ID", true), ("AGE", false), ("GENDER", false)]);
        let map = map_header(&header("GENDER,USER_ID"), &schema).unwrap();
        let row: Vec<&str> = map.row(&["f", "u1"]).collect();
        assert_eq!(row, ["u1", "", "f"]);
        assert_eq!(
            map_header(&header("AGE,GENDER"), &schema).unwrap_err(),
            "lacks the required column USER_ID (the dataset's columns: USER_ID,AGE,GENDER)"
        );
        assert_eq!(
            map_header(&header("USER_ID,AGE,HEIGHT"), &schema).unwrap_err(),
            "has the column HEIGHT, which is not a column of the dataset (USER_ID,AGE,GENDER)"
        );
        assert_eq!(
            map_header(&header("USER_ID,AGE,USER_ID"), &schema).unwrap_err(),
            "names the column USER_ID twice"
        );
        let all = columns(&[("A", true), ("B", true), ("C", true)]);
        assert_eq!(
            map_header(&header("B"), &all).unwrap_err(),
            "lacks the required columns A, C (the dataset's columns: A,B,C)"
        );
        assert_eq!(named(&header(",A,,B")), ["A", "B"]);
    }
}
