//! Request members, checked as the service model constrains them. Clients check almost
//! nothing (the Rust SDK not even required members), so every rule is enforced here, with
//! the AWS-style message `1 validation error detected: Value ... at 'member' failed to satisfy
//! constraint: ...`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A model pattern, matched against the whole value.
pub struct Pattern {
    source: &'static str,
    re: LazyLock<Regex>,
}

macro_rules! pattern {
    ($name:ident, $src:literal) => {
        #[doc = concat!("The model pattern `", $src, "`.")]
        pub static $name: Pattern = Pattern {
            source: $src,
            re: LazyLock::new(|| Regex::new(concat!("^(?:", $src, ")$")).expect("a valid pattern")),
        };
    };
}

pattern!(NAME, r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*");
pattern!(ARN, r"arn:([a-z\d-]+):personalize:.*:.*:.+");
pattern!(
    ROLE_ARN,
    r"arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
);
pattern!(KMS_KEY_ARN, r"arn:aws.*:kms:.*:[0-9]{12}:key/.*");
pattern!(S3_LOCATION, r"(s3|http|https)://.+");
pattern!(NEXT_TOKEN, r"\p{ASCII}{0,1500}");
pattern!(TAG, r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$");
pattern!(DATASET_TYPE, r"^[A-Za-z_]+$");
pattern!(
    ATTRIBUTION_SOURCE,
    r"^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$"
);

fn violation(value: &str, member: &str, constraint: &str) -> ApiError {
    let shown: String = value.chars().take(100).collect();
    ApiError::invalid_input(format!(
        "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

/// A request body: a JSON object.
pub struct Input(Map<String, Value>);

impl Input {
    /// Parses a body; an empty body is `{}`.
    pub fn parse(body: &[u8]) -> Result<Input, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Input(map)),
            Ok(_) => Err(ApiError::serialization(
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::serialization(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }

    /// A JSON value that must be an object (an element of a list of structures).
    pub fn from_value(v: Value) -> Result<Input, ApiError> {
        match v {
            Value::Object(map) => Ok(Input(map)),
            _ => Err(ApiError::invalid_input("each element must be an object")),
        }
    }

    fn value(&self, member: &str) -> Option<&Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    /// A member's value as given, unchecked (for members stored as they are).
    pub fn raw(&self, member: &str) -> Option<&Value> {
        self.value(member)
    }

    /// A member's value if it is a string, unchecked.
    pub fn raw_str(&self, member: &str) -> Option<&str> {
        self.value(member).and_then(Value::as_str)
    }

    /// An optional string member within `min..=max` characters matching `pattern`.
    pub fn opt_str(
        &self,
        member: &str,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) -> Result<Option<String>, ApiError> {
        let Some(v) = self.value(member) else {
            return Ok(None);
        };
        let Some(s) = v.as_str() else {
            return Err(ApiError::invalid_input(format!(
                "the member '{member}' must be a string"
            )));
        };
        let len = s.chars().count();
        if len < min {
            return Err(violation(
                s,
                member,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if len > max {
            return Err(violation(
                s,
                member,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        if let Some(p) = pattern {
            if !p.re.is_match(s) {
                return Err(violation(
                    s,
                    member,
                    &format!(
                        "Member must satisfy regular expression pattern: {}",
                        p.source
                    ),
                ));
            }
        }
        Ok(Some(s.to_owned()))
    }

    /// A required string member.
    pub fn req_str(
        &self,
        member: &str,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) -> Result<String, ApiError> {
        self.opt_str(member, min, max, pattern)?.ok_or_else(|| {
            ApiError::invalid_input(format!("the required member '{member}' is missing"))
        })
    }

    /// An optional string member from a fixed set of values.
    pub fn opt_enum(&self, member: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let Some(s) = self.opt_str(member, 0, 256, None)? else {
            return Ok(None);
        };
        if !allowed.contains(&s.as_str()) {
            return Err(violation(
                &s,
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Some(s))
    }

    /// An optional integer member within `min..=max`.
    pub fn opt_int(&self, member: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.value(member) else {
            return Ok(None);
        };
        let Some(n) = v.as_i64() else {
            return Err(ApiError::invalid_input(format!(
                "the member '{member}' must be an integer"
            )));
        };
        if n < min {
            return Err(violation(
                &n.to_string(),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if n > max {
            return Err(violation(
                &n.to_string(),
                member,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.value(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_input(format!(
                "the member '{member}' must be a boolean"
            ))),
        }
    }

    /// A nested object member, itself an [`Input`].
    pub fn opt_object(&self, member: &str) -> Result<Option<Input>, ApiError> {
        match self.value(member) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Input(m.clone()))),
            Some(_) => Err(ApiError::invalid_input(format!(
                "the member '{member}' must be an object"
            ))),
        }
    }

    /// A required list member.
    fn req_list(&self, member: &str) -> Result<&Vec<Value>, ApiError> {
        let Some(v) = self.value(member) else {
            return Err(ApiError::invalid_input(format!(
                "the required member '{member}' is missing"
            )));
        };
        v.as_array()
            .ok_or_else(|| ApiError::invalid_input(format!("the member '{member}' must be a list")))
    }

    /// A required list of strings: at most `max_items` entries, each within `min..=max`
    /// characters matching `pattern`.
    pub fn req_str_list(
        &self,
        member: &str,
        max_items: usize,
        min: usize,
        max: usize,
        pattern: Option<&Pattern>,
    ) -> Result<Vec<String>, ApiError> {
        let list = self.req_list(member)?;
        if list.len() > max_items {
            return Err(violation(
                &format!("{} items", list.len()),
                member,
                &format!("Member must have length less than or equal to {max_items}"),
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("{member}.{}.member", i + 1);
                let mut one = Map::new();
                one.insert(path.clone(), item.clone());
                Input(one).req_str(&path, min, max, pattern)
            })
            .collect()
    }

    /// A required list of objects, `min_items..=max_items` of them. An error in the `i`th
    /// (from 1) names its member as `{member}.{i}.member.{name}` when passed through
    /// [`nested`] with the prefix `{member}.{i}.member`.
    pub fn req_object_list(
        &self,
        member: &str,
        min_items: usize,
        max_items: usize,
    ) -> Result<Vec<Input>, ApiError> {
        let list = self.req_list(member)?;
        check_items(member, list.len(), min_items, max_items)?;
        list.iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(m) => Ok(Input(m.clone())),
                _ => Err(ApiError::invalid_input(format!(
                    "{member}.{}.member must be an object",
                    i + 1
                ))),
            })
            .collect()
    }

    /// An optional list of strings, `min_items..=max_items` of them, each within
    /// `min..=max` characters.
    pub fn opt_str_list(
        &self,
        member: &str,
        (min_items, max_items): (usize, usize),
        min: usize,
        max: usize,
    ) -> Result<Option<Vec<String>>, ApiError> {
        if !self.has(member) {
            return Ok(None);
        }
        if let Some(list) = self.value(member).and_then(Value::as_array) {
            check_items(member, list.len(), min_items, max_items)?;
        }
        self.req_str_list(member, max_items, min, max, None)
            .map(Some)
    }

    /// An optional number member (a timestamp in epoch seconds, a float), finite.
    pub fn opt_number(&self, member: &str) -> Result<Option<f64>, ApiError> {
        match self.value(member) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid_input(format!("the member '{member}' must be a number"))
                }),
        }
    }

    /// A required number member.
    pub fn req_number(&self, member: &str) -> Result<f64, ApiError> {
        self.opt_number(member)?.ok_or_else(|| {
            ApiError::invalid_input(format!("the required member '{member}' is missing"))
        })
    }

    /// True when the member is present and not null.
    pub fn has(&self, member: &str) -> bool {
        self.value(member).is_some()
    }

    /// The optional `tags` member: at most 200 `{tagKey, tagValue}` entries, checked.
    pub fn tags(&self) -> Result<Vec<(String, String)>, ApiError> {
        let Some(v) = self.value("tags") else {
            return Ok(Vec::new());
        };
        let Some(list) = v.as_array() else {
            return Err(ApiError::invalid_input("the member 'tags' must be a list"));
        };
        if list.len() > 200 {
            return Err(violation(
                &format!("{} tags", list.len()),
                "tags",
                "Member must have length less than or equal to 200",
            ));
        }
        let mut tags = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let Value::Object(m) = item else {
                return Err(ApiError::invalid_input(format!(
                    "tags.{} must be an object",
                    i + 1
                )));
            };
            let tag = Input(m.clone());
            let key = tag
                .req_str("tagKey", 1, 128, Some(&TAG))
                .map_err(|e| in_member(e, "tagKey", &format!("tags.{}.member.tagKey", i + 1)))?;
            let value = tag.req_str("tagValue", 0, 256, Some(&TAG)).map_err(|e| {
                in_member(e, "tagValue", &format!("tags.{}.member.tagValue", i + 1))
            })?;
            tags.push((key, value));
        }
        Ok(tags)
    }
}

fn check_items(member: &str, n: usize, min: usize, max: usize) -> Result<(), ApiError> {
    let constraint = if n < min {
        format!("Member must have length greater than or equal to {min}")
    } else if n > max {
        format!("Member must have length less than or equal to {max}")
    } else {
        return Ok(());
    };
    Err(violation(&format!("{n} items"), member, &constraint))
}

/// An error of a member of a nested object, renamed to its path in the request
/// (`eventList.2.member.sentAt`).
pub fn nested(mut e: ApiError, prefix: &str) -> ApiError {
    e.message = e
        .message
        .replace(" at '", &format!(" at '{prefix}."))
        .replace("member '", &format!("member '{prefix}."));
    e
}

fn in_member(mut e: ApiError, member: &str, path: &str) -> ApiError {
    e.message = e
        .message
        .replace(&format!("'{member}'"), &format!("'{path}'"));
    e
}

/// A page of a listing, from the request's `maxResults` and `nextToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items skipped.
    pub offset: usize,
    /// Items at most.
    pub limit: usize,
}

impl Page {
    /// Reads `maxResults` (1..100, default 100) and `nextToken` (one this server issued).
    pub fn from_input(input: &Input) -> Result<Page, ApiError> {
        let limit = input.opt_int("maxResults", 1, 100)?.unwrap_or(100) as usize;
        let offset = match input.opt_str("nextToken", 0, 1500, Some(&NEXT_TOKEN))? {
            None => 0,
            Some(t) => decode_token(&t).ok_or_else(|| {
                ApiError::invalid_next_token(format!("the nextToken {t:?} is not valid"))
            })?,
        };
        Ok(Page { offset, limit })
    }

    /// A listing's answer: `{list_member: [page as JSON], "nextToken": ...}`, the token only
    /// when more items follow.
    pub fn answer<T>(
        &self,
        items: Vec<T>,
        list_member: &str,
        to_json: impl Fn(&T) -> Value,
    ) -> Value {
        let (page, next) = self.apply(items);
        let mut out = Map::new();
        out.insert(
            list_member.to_owned(),
            Value::Array(page.iter().map(to_json).collect()),
        );
        if let Some(token) = next {
            out.insert("nextToken".to_owned(), Value::String(token));
        }
        Value::Object(out)
    }

    /// Cuts one page out of `items`; returns it with the `nextToken` of the next page, if any.
    pub fn apply<T>(&self, items: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let end = self.offset + page.len();
        (page, (end < total).then(|| encode_token(end)))
    }
}

const TOKEN_PREFIX: &str = "pl1.";

fn encode_token(offset: usize) -> String {
    let raw = format!("offset:{offset}");
    format!(
        "{TOKEN_PREFIX}{}",
        raw.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn decode_token(token: &str) -> Option<usize> {
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.len() % 2 != 0 || hex.len() > 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_values() {
        assert!(NAME.re.is_match("a-b_1"));
        assert!(!NAME.re.is_match("bad name!"));
        assert!(!NAME.re.is_match("-a"));
        assert!(ARN
            .re
            .is_match("arn:aws:personalize:us-east-1:000000000000:dataset-group/g"));
        assert!(!ARN.re.is_match("arn:aws:s3:::b"));
        assert!(ROLE_ARN
            .re
            .is_match("arn:aws:iam::123456789012:role/PersonalizeRole"));
        assert!(!ROLE_ARN.re.is_match("arn:aws:iam::1234:role/x"));
    }

    #[test]
    fn tokens_round_trip_and_foreign_tokens_fail() {
        let page = Page {
            offset: 0,
            limit: 2,
        };
        let (items, token) = page.apply(vec![1, 2, 3, 4, 5]);
        assert_eq!(items, [1, 2]);
        let next = decode_token(token.as_deref().unwrap()).unwrap();
        let (items, token) = Page {
            offset: next,
            limit: 2,
        }
        .apply(vec![1, 2, 3, 4, 5]);
        assert_eq!(items, [3, 4]);
        let (items, token) = Page {
            offset: decode_token(&token.unwrap()).unwrap(),
            limit: 2,
        }
        .apply(vec![1, 2, 3, 4, 5]);
        assert_eq!((items, token), (vec![5], None));
        for bad in [
            "",
            "abc",
            "pl1.zz",
            "pl1.6f6666736574",
            "pl1.6f66667365743a2d31",
        ] {
            assert_eq!(decode_token(bad), None, "{bad}");
        }
    }
}
