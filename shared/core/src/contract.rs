//! The HTTP API's request shapes, enforced from the same schemas the OpenAPI
//! document prints. A request type declares its rules once, on the type
//! (`#[schema(min_length = 1, maximum = 200, pattern = "…")]` on its fields, and
//! [`Contract::refine`] for what a derive cannot say, such as "one of these three
//! fields"); the document is generated from that declaration, and every request
//! is checked against it here before a handler sees it. So the document and the
//! validation cannot drift: there is one declaration, read twice.
//!
//! The checker covers the JSON Schema 2020-12 keywords the API's schemas use:
//! `$ref` (to `#/components/schemas/…`), `type` (one or several), `enum`,
//! `const`, `oneOf`/`anyOf`/`allOf`/`not`, `properties`, `required`,
//! `additionalProperties`, `minProperties`, `items`, `minItems`/`maxItems`,
//! `minLength`/`maxLength` (in characters, as JSON Schema counts them),
//! `pattern` (unanchored, as JSON Schema searches), `minimum`/`maximum` and
//! their exclusive forms, and the formats `date-time` and the integer widths
//! (`int32`, `uint64`…). A keyword it does not know is an error at test time
//! (`every_keyword_is_understood`), never silently ignored.

use serde_json::{Map, Value};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// A request type the API checks against its own schema.
pub trait Contract: ToSchema {
    /// Rules a derive cannot express, added to the type's schema (an `anyOf`
    /// over required fields, say). Both the document and the checker see them.
    fn refine(_schema: &mut Value) {}
}

/// A type's schema and every schema it refers to, as JSON.
#[derive(Debug, Clone)]
pub struct Schemas {
    /// The component name of the root schema.
    pub name: String,
    /// Every component: the root and what it refers to, by name.
    pub components: Map<String, Value>,
}

impl Schemas {
    /// `T`'s schema (refined) and the components it refers to.
    pub fn of<T: Contract>() -> Self {
        let name = T::name().to_string();
        let mut nested: Vec<(String, RefOr<Schema>)> = Vec::new();
        T::schemas(&mut nested);
        let mut components = Map::new();
        for (n, s) in nested {
            components.insert(n, serde_json::to_value(s).unwrap_or(Value::Null));
        }
        let mut root = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
        T::refine(&mut root);
        components.insert(name.clone(), root);
        for schema in components.values_mut() {
            portable_patterns(schema);
        }
        Self { name, components }
    }

    /// The root schema.
    pub fn root(&self) -> &Value {
        &self.components[&self.name]
    }

    /// `value` against the root schema: `Err` says where and why, for the
    /// caller ("filters.from: not an RFC 3339 date-time").
    pub fn check(&self, value: &Value) -> Result<(), String> {
        check(self.root(), value, "", &self.components)
    }
}

/// White space Rust's `\s` matches beyond ASCII. Regex engines disagree on
/// what `\s` means (the fuzzer's generator, for one, reads it as ASCII only),
/// so patterns are printed with these spelled out: every engine then reads
/// `\S` and `[^\s…]` as Rust does.
const UNICODE_SPACES: &str = "\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// `pattern` with `\S` and a class's `\s` spelled out ([`UNICODE_SPACES`]);
/// it matches exactly what it matched before, in Rust.
pub fn portable(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('S') if !in_class => {
                    out.push_str("[^\\s");
                    out.push_str(UNICODE_SPACES);
                    out.push(']');
                }
                Some('s') if in_class => {
                    out.push_str("\\s");
                    out.push_str(UNICODE_SPACES);
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` or `^]` right after the bracket is literal.
                let rest = chars.as_str();
                let skip = if rest.starts_with("^]") {
                    2
                } else if rest.starts_with(']') || rest.starts_with('^') {
                    1
                } else {
                    0
                };
                for _ in 0..skip {
                    if let Some(x) = chars.next() {
                        out.push(x);
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `pattern` without its leading `^` and trailing `$`: what a generator of
/// matching strings (property tests) takes; a string it makes matches the
/// whole pattern, so it matches the anchored one too.
pub fn unanchored(pattern: &str) -> &str {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    p.strip_suffix('$')
        .filter(|p| !p.ends_with('\\'))
        .unwrap_or(p)
}

/// Every `pattern` in `schema`, made [`portable`].
pub fn portable_patterns(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match (k.as_str(), &*v) {
                    ("pattern", Value::String(p)) => *v = Value::String(portable(p)),
                    _ => portable_patterns(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(portable_patterns),
        _ => {}
    }
}

/// Numbers a client wrote with a fraction of zero (`43.0`) as the integers
/// they are, as JSON Schema counts them: a field typed integer then reads them.
pub fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                *value = Value::from(f as i64);
            }
        }
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// An IANA time zone name: every zone `when::zone` reads (chrono-tz's list),
/// printed as one `TimeZone` component.
pub struct TimeZoneName;

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        let mut says = utoipa::openapi::extensions::Extensions::default();
        says.insert(
            "x-message".into(),
            "is not an IANA time zone (Europe/Berlin)".into(),
        );
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An IANA time zone (Europe/Berlin)"))
            .enum_values(Some(names))
            .extensions(Some(says))
            .into()
    }
}

impl ToSchema for TimeZoneName {
    fn name() -> std::borrow::Cow<'static, str> {
        "TimeZone".into()
    }
}

/// An `anyOf` saying at least one of `fields` is given and not null (a
/// PATCH that changes something).
pub fn one_of_given(fields: &[&str]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                serde_json::json!({
                    "required": [f],
                    "properties": {*f: {"not": {"type": "null"}}},
                })
            })
            .collect(),
    )
}

/// `T`'s [`Schemas`], built once per process.
pub fn schemas<T: Contract + 'static>() -> std::sync::Arc<Schemas> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<HashMap<TypeId, Arc<Schemas>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    built
        .entry(TypeId::of::<T>())
        .or_insert_with(|| Arc::new(Schemas::of::<T>()))
        .clone()
}

/// A raw query-string or path value against a parameter's schema: the text
/// is read as the schema's type says (`integer`, `boolean`, else a string),
/// as OpenAPI serializes parameters.
pub fn check_parameter(schema: &Value, name: &str, raw: &str) -> Result<(), String> {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec!["string"],
    };
    let value = if types.contains(&"integer") {
        match raw.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err(format!("{name} must be an integer")),
        }
    } else if types.contains(&"boolean") {
        match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{name} must be true or false")),
        }
    } else {
        Value::String(raw.to_owned())
    };
    check(schema, &value, name, &Map::new())
}

/// `value` against one schema (its `$ref`s resolved in `components`).
pub fn check(
    schema: &Value,
    value: &Value,
    at: &str,
    components: &Map<String, Value>,
) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        // `true` accepts anything, `false` nothing.
        return match schema {
            Value::Bool(false) => Err(format!("{} is not allowed", name(at))),
            _ => Ok(()),
        };
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/components/schemas/")
            .and_then(|n| components.get(n))
            .ok_or_else(|| format!("the schema refers to {r}, which is not defined"))?;
        check(target, value, at, components)?;
    }
    if let Some(types) = s.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| is_type(value, t)) {
            return Err(format!("{} must be {}", name(at), types.join(" or ")));
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            if let Some(message) = s.get("x-message").and_then(Value::as_str) {
                return Err(format!("{} {message}", name(at)));
            }
            let listed: Vec<String> = options.iter().take(12).map(Value::to_string).collect();
            let more = if options.len() > 12 { ", …" } else { "" };
            return Err(format!(
                "{} must be one of {}{more}",
                name(at),
                listed.join(", ")
            ));
        }
    }
    if let Some(c) = s.get("const") {
        if c != value {
            return Err(format!("{} must be {c}", name(at)));
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, value, at, components)?;
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        let mut why = Vec::new();
        if !any
            .iter()
            .any(|sub| match check(sub, value, at, components) {
                Ok(()) => true,
                Err(e) => {
                    why.push(e);
                    false
                }
            })
        {
            return Err(alternatives(at, s, &why));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let mut why = Vec::new();
        let matched = one
            .iter()
            .filter(|sub| match check(sub, value, at, components) {
                Ok(()) => true,
                Err(e) => {
                    why.push(e);
                    false
                }
            })
            .count();
        if matched != 1 {
            return Err(alternatives(at, s, &why));
        }
    }
    if let Some(not) = s.get("not") {
        if check(not, value, at, components).is_ok() {
            return Err(format!("{} is not allowed here", name(at)));
        }
    }
    match value {
        Value::String(text) => string(s, text, at)?,
        Value::Number(_) => number(s, value, at)?,
        Value::Object(fields) => object(s, fields, at, components)?,
        Value::Array(items) => array(s, items, at, components)?,
        Value::Null | Value::Bool(_) => {}
    }
    Ok(())
}

/// Every keyword [`check`] reads, and the annotations it may ignore.
pub const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    // Annotations: they change nothing a request may be.
    "description",
    "title",
    "default",
    "examples",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "x-message",
];

/// Why no alternative matched: the schema's own `x-message` when it has one
/// (written for people), else the first alternative's reason.
fn alternatives(at: &str, s: &Map<String, Value>, why: &[String]) -> String {
    match s.get("x-message").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        // "must be null" explains nothing when another form was meant.
        None => why
            .iter()
            .find(|w| !w.ends_with("must be null"))
            .or(why.first())
            .cloned()
            .unwrap_or_else(|| format!("{} matches none of its forms", name(at))),
    }
}

fn name(at: &str) -> String {
    if at.is_empty() {
        "the body".into()
    } else {
        at.to_owned()
    }
}

fn child(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        _ => false,
    }
}

fn string(s: &Map<String, Value>, text: &str, at: &str) -> Result<(), String> {
    let chars = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
        if chars < min {
            return Err(if min == 1 {
                format!("{} must not be empty", name(at))
            } else {
                format!("{} must be at least {min} characters", name(at))
            });
        }
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
        if chars > max {
            return Err(format!("{} must be at most {max} characters", name(at)));
        }
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        if !matches(pattern, text)? {
            return Err(match s.get("x-message").and_then(Value::as_str) {
                Some(message) => format!("{} {message}", name(at)),
                None if pattern == "\\S" || pattern == portable("\\S") => {
                    format!("{} must not be blank", name(at))
                }
                None => format!("{} must match {pattern}", name(at)),
            });
        }
    }
    if s.get("format").and_then(Value::as_str) == Some("date-time")
        && chrono::DateTime::parse_from_rfc3339(text).is_err()
    {
        return Err(format!(
            "{} must be an RFC 3339 date-time (2026-03-01T09:00:00Z)",
            name(at)
        ));
    }
    Ok(())
}

/// `pattern` searched in `text`; each pattern is compiled once per process.
fn matches(pattern: &str, text: &str) -> Result<bool, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static COMPILED: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let mut compiled = COMPILED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !compiled.contains_key(pattern) {
        let re = regex::Regex::new(pattern)
            .map_err(|e| format!("the schema's pattern {pattern:?} does not compile: {e}"))?;
        compiled.insert(pattern.to_owned(), re);
    }
    Ok(compiled[pattern].is_match(text))
}

fn number(s: &Map<String, Value>, value: &Value, at: &str) -> Result<(), String> {
    let out_of_range = || format!("{} is out of range", name(at));
    if let Some(format) = s.get("format").and_then(Value::as_str) {
        let (lo, hi): (i128, i128) = match format {
            "int8" => (i8::MIN.into(), i8::MAX.into()),
            "int16" => (i16::MIN.into(), i16::MAX.into()),
            "int32" => (i32::MIN.into(), i32::MAX.into()),
            "int64" => (i64::MIN.into(), i64::MAX.into()),
            "uint8" => (0, u8::MAX.into()),
            "uint16" => (0, u16::MAX.into()),
            "uint32" => (0, u32::MAX.into()),
            "uint64" => (0, u64::MAX.into()),
            _ => (i128::MIN, i128::MAX),
        };
        let n = value
            .as_i64()
            .map(i128::from)
            .or_else(|| value.as_u64().map(i128::from));
        match n {
            Some(n) if n < lo || n > hi => return Err(out_of_range()),
            None if (lo, hi) != (i128::MIN, i128::MAX) => return Err(out_of_range()),
            _ => {}
        }
    }
    let Some(n) = value.as_f64() else {
        return Ok(());
    };
    let bound = |k: &str| s.get(k).and_then(Value::as_f64);
    if let Some(min) = bound("minimum") {
        if n < min {
            return Err(format!("{} must be at least {min}", name(at)));
        }
    }
    if let Some(max) = bound("maximum") {
        if n > max {
            return Err(format!("{} must be at most {max}", name(at)));
        }
    }
    if let Some(min) = bound("exclusiveMinimum") {
        if n <= min {
            return Err(format!("{} must be more than {min}", name(at)));
        }
    }
    if let Some(max) = bound("exclusiveMaximum") {
        if n >= max {
            return Err(format!("{} must be less than {max}", name(at)));
        }
    }
    Ok(())
}

fn object(
    s: &Map<String, Value>,
    fields: &Map<String, Value>,
    at: &str,
    components: &Map<String, Value>,
) -> Result<(), String> {
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(key) {
                return Err(format!("{} is required", child(at, key)));
            }
        }
    }
    if let Some(min) = s.get("minProperties").and_then(Value::as_u64) {
        if (fields.len() as u64) < min {
            return Err(format!("{} needs at least {min} field(s)", name(at)));
        }
    }
    let properties = s.get("properties").and_then(Value::as_object);
    for (key, field) in fields {
        let path = child(at, key);
        match properties.and_then(|p| p.get(key)) {
            Some(schema) => check(schema, field, &path, components)?,
            None => match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    return Err(format!(
                        "{path} is not a field of {} (it has: {})",
                        name(at),
                        known.join(", ")
                    ));
                }
                Some(extra) => check(extra, field, &path, components)?,
                None => {}
            },
        }
    }
    Ok(())
}

fn array(
    s: &Map<String, Value>,
    items: &[Value],
    at: &str,
    components: &Map<String, Value>,
) -> Result<(), String> {
    if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
        if (items.len() as u64) < min {
            return Err(format!("{} needs at least {min} item(s)", name(at)));
        }
    }
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
        if (items.len() as u64) > max {
            return Err(format!("{} takes at most {max} items", name(at)));
        }
    }
    if let Some(schema) = s.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(schema, item, &format!("{}[{i}]", name(at)), components)?;
        }
    }
    Ok(())
}

/// Keywords in `schema` (recursively) that [`check`] does not know.
pub fn unknown_keywords(schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk(schema, &mut unknown);
    unknown.sort();
    unknown.dedup();
    unknown
}

fn walk(schema: &Value, unknown: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        return;
    };
    for (k, v) in s {
        if !KEYWORDS.contains(&k.as_str()) {
            unknown.push(k.clone());
        }
        match k.as_str() {
            "properties" => {
                for sub in v.as_object().into_iter().flat_map(|p| p.values()) {
                    walk(sub, unknown);
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                for sub in v.as_array().into_iter().flatten() {
                    walk(sub, unknown);
                }
            }
            "items" | "additionalProperties" | "not" => walk(v, unknown),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ok(schema: Value, value: Value) -> Result<(), String> {
        check(&schema, &value, "", &Map::new())
    }

    #[test]
    fn strings_count_characters_and_search_patterns() {
        let s = json!({"type": "string", "minLength": 1, "maxLength": 3, "pattern": "\\S"});
        assert!(ok(s.clone(), json!("né")).is_ok());
        assert!(ok(s.clone(), json!("ééé")).is_ok(), "3 characters, 6 bytes");
        assert_eq!(
            ok(s.clone(), json!("")).unwrap_err(),
            "the body must not be empty"
        );
        assert!(ok(s.clone(), json!("  ")).is_err(), "blank");
        assert!(ok(s, json!("abcd")).is_err());
    }

    #[test]
    fn objects_check_required_unknown_and_nested_fields() {
        let s = json!({"type": "object", "required": ["a"], "additionalProperties": false,
            "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 200, "format": "int32"},
                           "b": {"type": ["string", "null"], "format": "date-time"}}});
        assert!(ok(s.clone(), json!({"a": 5, "b": null})).is_ok());
        assert!(ok(s.clone(), json!({"a": 5, "b": "2026-01-01T00:00:00Z"})).is_ok());
        assert_eq!(ok(s.clone(), json!({})).unwrap_err(), "a is required");
        assert_eq!(
            ok(s.clone(), json!({"a": 0})).unwrap_err(),
            "a must be at least 1"
        );
        assert!(ok(s.clone(), json!({"a": 1.5})).is_err());
        assert!(ok(s.clone(), json!({"a": 5, "b": "tomorrow"})).is_err());
        assert!(ok(s, json!({"a": 5, "c": 1}))
            .unwrap_err()
            .contains("c is not a field"));
    }

    #[test]
    fn alternatives_and_refs() {
        let mut components = Map::new();
        components.insert(
            "Id".into(),
            json!({"type": "string", "pattern": "^doc_[0-9a-f]{24}$"}),
        );
        let s = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Id"}]});
        assert!(check(&s, &json!(null), "", &components).is_ok());
        assert!(check(&s, &json!("doc_0123456789abcdef01234567"), "", &components).is_ok());
        assert!(check(&s, &json!("doc_1"), "", &components).is_err());
        let any =
            json!({"anyOf": [{"required": ["x"]}, {"required": ["y"]}], "x-message": "say x or y"});
        assert_eq!(ok(any.clone(), json!({})).unwrap_err(), "say x or y");
        assert!(ok(any, json!({"y": 1})).is_ok());
    }

    #[test]
    fn integer_formats_bound_the_value() {
        let s = json!({"type": "integer", "format": "uint32"});
        assert!(ok(s.clone(), json!(4_294_967_295u64)).is_ok());
        assert!(ok(s.clone(), json!(4_294_967_296u64)).is_err());
        assert!(ok(s, json!(-1)).is_err());
    }

    #[test]
    fn portable_patterns_match_what_they_matched() {
        assert_eq!(portable("\\S"), format!("[^\\s{UNICODE_SPACES}]"));
        assert_eq!(
            portable("^[^@\\s<>]+$"),
            format!("^[^@\\s{UNICODE_SPACES}<>]+$")
        );
        assert_eq!(portable("^[]\\s]$"), format!("^[]\\s{UNICODE_SPACES}]$"));
        assert_eq!(
            portable("a\\.b\\\\s"),
            "a\\.b\\\\s",
            "escaped backslashes stay"
        );
        for (pattern, text) in [
            ("\\S", " \u{85}\u{a0}\u{3000}x"),
            ("\\S", " \u{2028}\t"),
            ("^[^@\\s<>]+$", "a\u{a0}b"),
            ("^[^@\\s<>]+$", "ab"),
        ] {
            let before = regex::Regex::new(pattern).unwrap().is_match(text);
            let after = regex::Regex::new(&portable(pattern))
                .unwrap()
                .is_match(text);
            assert_eq!(before, after, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn integral_floats_read_as_integers() {
        let mut v = json!({"limit": 43.0, "x": [1.5, 2.0], "big": 1e20});
        integral_numbers(&mut v);
        assert_eq!(v, json!({"limit": 43, "x": [1.5, 2], "big": 1e20}));
    }

    fn pattern_of<T: ToSchema>() -> String {
        serde_json::to_value(T::schema()).unwrap()["pattern"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// What the schemas let through, the code accepts: each pattern the API
    /// prints, against the function that decides.
    mod patterns_admit_only_what_the_code_accepts {
        use super::*;
        use crate::agent::{is_conversation_id, CONVERSATION_ID_PATTERN};
        use crate::domain::DocumentId;
        use crate::pipeline::keys::{sanitize_file_name, FILE_NAME_PATTERN};
        use crate::tools::{is_email_address, ADDRESS_PATTERN, MAX_ADDRESS_CHARS};
        use proptest::string::string_regex;

        proptest! {
            #[test]
            fn document_ids(id in string_regex(unanchored(&pattern_of::<DocumentId>())).unwrap()) {
                prop_assert!(DocumentId::parse(&id).is_some(), "{id}");
            }

            #[test]
            fn parsed_document_ids_fit_the_pattern(id in "doc_[0-9a-fA-Fg]{23,25}") {
                let fits = regex::Regex::new(&pattern_of::<DocumentId>()).unwrap().is_match(&id);
                prop_assert_eq!(DocumentId::parse(&id).is_some(), fits, "{}", id);
            }

            #[test]
            fn conversation_ids(id in string_regex(unanchored(CONVERSATION_ID_PATTERN)).unwrap()) {
                prop_assert!(is_conversation_id(&id), "{id}");
            }

            #[test]
            fn addresses(a in string_regex(unanchored(&portable(ADDRESS_PATTERN))).unwrap()
                .prop_filter("within the length", |a| a.chars().count() <= MAX_ADDRESS_CHARS)) {
                prop_assert!(is_email_address(&a), "{a:?}");
            }

            #[test]
            fn file_names(name in string_regex(unanchored(&portable(FILE_NAME_PATTERN))).unwrap()) {
                prop_assert!(sanitize_file_name(&name).is_some(), "{name:?}");
            }

            #[test]
            fn not_blank_is_not_blank_once_trimmed(text in string_regex(unanchored(&portable("\\S"))).unwrap()) {
                prop_assert!(!text.trim().is_empty(), "{text:?}");
            }
        }
    }

    proptest! {
        /// Nothing a client sends makes the checker panic.
        #[test]
        fn never_panics(text in ".{0,40}", n in any::<i64>(), f in any::<f64>()) {
            let s = json!({"type": "object", "properties": {
                "t": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$", "format": "date-time"},
                "n": {"type": "integer", "format": "uint8", "minimum": 1, "exclusiveMaximum": 9}}});
            let _ = ok(s.clone(), json!({"t": text, "n": n}));
            let _ = ok(s, json!({"t": f, "n": f}));
        }
    }
}
