//! Debezium's `JsonSchemaData` (`io.debezium.transforms.outbox.JsonSchemaData`, 3.6): a
//! Connect schema inferred from a JSON document and the document as Connect data, used by
//! the outbox `EventRouter` (`table.expand.json.payload`) and by
//! `DecodeLogicalDecodingMessageContent`.
//!
//! Inference follows Jackson's node types: strings, booleans, `int` and `long` numbers,
//! every other number a double; objects become optional structs named by their path
//! (`payload.address`), arrays take the schema of their first non-null element (of objects,
//! the merge of every element's schema); nulls and empty arrays are left out (or, with
//! `null_as_bytes`, nulls become optional bytes). Where Java merges distinct object schemas
//! in a `HashSet`'s order, this merges them in the order the elements come.

use tributary_core::{Field, Schema, SchemaType, Value};

use crate::json::tree::Tree;

/// Parses `text` as Jackson's `ObjectMapper.readTree` does: the first JSON value (anything
/// after it is not read), a repeated object key keeping its first place and its last value.
pub(crate) fn read_tree(text: &str) -> Result<Tree, String> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Tree>();
    match values.next() {
        Some(Ok(tree)) => Ok(dedup(tree)),
        Some(Err(e)) => Err(format!("not JSON: {e}")),
        None => Err("not JSON: empty".into()),
    }
}

fn dedup(tree: Tree) -> Tree {
    match tree {
        Tree::Object(fields) => {
            let mut out: Vec<(String, Tree)> = Vec::with_capacity(fields.len());
            for (k, v) in fields {
                let v = dedup(v);
                match out.iter_mut().find(|(name, _)| *name == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            Tree::Object(out)
        }
        Tree::Array(items) => Tree::Array(items.into_iter().map(dedup).collect()),
        other => other,
    }
}

/// The schema of a JSON number as Jackson types it: `int`, `long`, anything else double.
fn number_schema(n: &serde_json::Number) -> Schema {
    match n.as_i64() {
        Some(i) if i32::try_from(i).is_ok() => Schema::int32(),
        Some(_) => Schema::int64(),
        None => Schema::float64(),
    }
    .optional()
}

/// Jackson's node type, for the homogeneity check of arrays.
fn node_kind(t: &Tree) -> u8 {
    match t {
        Tree::Null => 0,
        Tree::Bool(_) => 1,
        Tree::Number(_) => 2,
        Tree::String(_) => 3,
        Tree::Array(_) => 4,
        Tree::Object(_) => 5,
    }
}

/// `toConnectSchema(key, node)`: `None` where Java's is null (a null, an empty array).
pub(crate) fn infer(
    key: Option<&str>,
    node: &Tree,
    null_as_bytes: bool,
) -> Result<Option<Schema>, String> {
    Ok(match node {
        Tree::String(_) => Some(Schema::string().optional()),
        Tree::Bool(_) => Some(Schema::boolean().optional()),
        Tree::Number(n) => Some(number_schema(n)),
        Tree::Array(items) if items.is_empty() => None,
        Tree::Array(items) => {
            Some(Schema::array(element_schema(key, items, null_as_bytes)?).optional())
        }
        Tree::Object(fields) => {
            let mut out: Vec<Field> = Vec::new();
            for (name, value) in fields {
                let path = match key {
                    Some(k) if !k.trim().is_empty() => format!("{k}.{name}"),
                    _ => name.clone(),
                };
                if let Some(schema) = infer(Some(&path), value, null_as_bytes)?
                    && !out.iter().any(|f| f.name == *name)
                {
                    out.push(Field::new(name.clone(), schema));
                }
            }
            let mut s = Schema::new(SchemaType::Struct(out)).optional();
            s.name = key.map(str::to_owned);
            Some(s)
        }
        Tree::Null if null_as_bytes => Some(Schema::bytes().optional()),
        Tree::Null => None,
    })
}

/// `toConnectSchemaWithCycles`: the element schema of a non-empty array.
fn element_schema(
    key: Option<&str>,
    items: &[Tree],
    null_as_bytes: bool,
) -> Result<Schema, String> {
    let sample = first_element(items)?;
    if let Tree::Object(_) = sample {
        let mut distinct: Vec<Schema> = Vec::new();
        for item in items.iter().filter(|i| matches!(i, Tree::Object(_))) {
            if let Some(s) = infer(key, item, null_as_bytes)?
                && !distinct.contains(&s)
            {
                distinct.push(s);
            }
        }
        let mut iter = distinct.into_iter();
        let first = iter.next().ok_or("an array of objects without a schema")?;
        return Ok(iter.fold(first, merge));
    }
    infer(None, sample, null_as_bytes)?
        .ok_or_else(|| "Array has unrecognized member schema.".into())
}

/// `getFirstArrayElement`: the first non-null element, every other of the same node type
/// (and numbers of the same schema).
fn first_element(items: &[Tree]) -> Result<&Tree, String> {
    let mut first: Option<&Tree> = None;
    for item in items.iter().filter(|i| !i.is_null()) {
        let Some(reference) = first else {
            first = Some(item);
            continue;
        };
        if node_kind(item) != node_kind(reference) {
            return Err("Field is not a homogenous array".into());
        }
        if let (Tree::Number(a), Tree::Number(b)) = (reference, item)
            && number_schema(a) != number_schema(b)
        {
            return Err("Field is not a homogenous array, different number types".into());
        }
    }
    Ok(first.unwrap_or(&Tree::Null))
}

/// `mergeSchema`: `left`'s fields, then `right`'s new ones; a bytes field (a null) gives way
/// to a typed one. The result is built by `copySchemaBasics`, so it is required.
fn merge(left: Schema, right: Schema) -> Schema {
    let mut fields: Vec<Field> = left.fields().to_vec();
    for f in right.fields() {
        match fields.iter_mut().find(|o| o.name == f.name) {
            None => fields.push(f.clone()),
            Some(old) => {
                if old.schema != f.schema
                    && old.schema.ty == SchemaType::Bytes
                    && f.schema.ty != SchemaType::Bytes
                {
                    *old = f.clone();
                }
            }
        }
    }
    super::util::struct_like(&left, fields)
}

/// `toConnectData` of a document whose schema is a struct, checked as `Struct.put`
/// validates each value.
pub(crate) fn to_struct(document: &Tree, schema: &Schema) -> Result<Value, String> {
    let (Tree::Object(entries), SchemaType::Struct(fields)) = (document, &schema.ty) else {
        return Err(format!(
            "Cannot list fields on non-struct type {}",
            schema.type_name()
        ));
    };
    let mut values = Vec::with_capacity(fields.len());
    for f in fields {
        let value = match entries.iter().find(|(k, _)| *k == f.name) {
            Some((_, v)) => to_value(v, &f.schema)?,
            None => Value::Null,
        };
        check(&f.name, &f.schema, &value)?;
        values.push(value);
    }
    Ok(Value::Struct(values))
}

fn to_value(node: &Tree, schema: &Schema) -> Result<Value, String> {
    Ok(match node {
        Tree::String(s) => Value::String(s.clone()),
        Tree::Bool(b) => Value::Boolean(*b),
        Tree::Number(n) => match (n.as_i64(), n.as_f64()) {
            _ if n.is_f64() => Value::Float64(n.as_f64().unwrap_or_default()),
            (Some(i), _) => match i32::try_from(i) {
                Ok(i) => Value::Int32(i),
                Err(_) => Value::Int64(i),
            },
            // Jackson's BigInteger, a BigDecimal no schema here accepts.
            _ => return Err(format!("Invalid Java object for schema type: {n}")),
        },
        Tree::Array(items) => {
            let SchemaType::Array(element) = &schema.ty else {
                return Err(format!(
                    "an array where the schema is {}",
                    schema.type_name()
                ));
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let v = to_value(item, element)?;
                check("element", element, &v)?;
                out.push(v);
            }
            Value::Array(out)
        }
        Tree::Object(_) => to_struct(node, schema)?,
        Tree::Null => Value::Null,
    })
}

/// `ConnectSchema.validateValue` for the values inference makes.
fn check(field: &str, schema: &Schema, value: &Value) -> Result<(), String> {
    let ok = match (value, &schema.ty) {
        (Value::Null, _) => schema.optional,
        (Value::String(_), SchemaType::String)
        | (Value::Boolean(_), SchemaType::Boolean)
        | (Value::Int32(_), SchemaType::Int32)
        | (Value::Int64(_), SchemaType::Int64)
        | (Value::Float64(_), SchemaType::Float64)
        | (Value::Array(_), SchemaType::Array(_))
        | (Value::Struct(_), SchemaType::Struct(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid value for field \"{field}\": a {} where the schema is {}",
            super::util::kind(value),
            schema.type_name()
        ))
    }
}

/// Why a JSON payload was not expanded.
pub(crate) enum Expansion {
    /// Not JSON, or no schema fits it: the payload stays a string.
    Schema(String),
    /// The data does not fit the inferred schema.
    Data(String),
}

/// `table.expand.json.payload`: a JSON object string as a struct of its inferred schema.
pub(crate) fn expand(
    text: &str,
    key: &str,
    null_as_bytes: bool,
) -> Result<(Schema, Value), Expansion> {
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Err(Expansion::Schema(format!(
            "Unable to parse payload starting with '{}'",
            text.chars().next().unwrap_or(' ')
        )));
    }
    let tree = read_tree(text).map_err(Expansion::Schema)?;
    let schema = infer(Some(key), &tree, null_as_bytes)
        .map_err(Expansion::Schema)?
        .ok_or_else(|| Expansion::Data("fieldSchema for field payload cannot be null".into()))?;
    let value = to_struct(&tree, &schema).map_err(Expansion::Data)?;
    Ok((schema, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(text: &str) -> Schema {
        infer(Some("payload"), &read_tree(text).unwrap(), false)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn objects_become_structs_named_by_path() {
        let s = schema_of(
            r#"{"id": 1, "big": 3000000000, "price": 1.5, "tags": ["a"], "addr": {"city": "x"}, "none": null, "empty": []}"#,
        );
        let names: Vec<_> = s.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "big", "price", "tags", "addr"]);
        assert_eq!(s.fields()[0].schema, Schema::int32().optional());
        assert_eq!(s.fields()[1].schema, Schema::int64().optional());
        assert_eq!(s.fields()[2].schema, Schema::float64().optional());
        assert_eq!(s.fields()[4].schema.name.as_deref(), Some("payload.addr"));
        let v = to_struct(
            &read_tree(r#"{"id": 1, "addr": {"city": "x"}}"#).unwrap(),
            &s,
        )
        .unwrap();
        assert_eq!(
            v,
            Value::Struct(vec![
                Value::Int32(1),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Struct(vec![Value::String("x".into())]),
            ])
        );
    }

    #[test]
    fn arrays_must_be_homogenous_and_objects_merge() {
        let tree = read_tree(r#"{"a": [1, "x"]}"#).unwrap();
        assert!(infer(None, &tree, false).is_err());
        let tree = read_tree(r#"{"a": [1, 2.5]}"#).unwrap();
        assert!(infer(None, &tree, false).is_err());
        let s = schema_of(r#"{"a": [{"x": 1}, {"y": "b"}, {"x": 2}]}"#);
        let element = match &s.fields()[0].schema.ty {
            SchemaType::Array(e) => e.as_ref().clone(),
            _ => unreachable!(),
        };
        assert!(
            !element.optional,
            "a merged schema is required, as copySchemaBasics builds it"
        );
        assert_eq!(element.fields().len(), 2);
    }

    #[test]
    fn trailing_text_is_not_read_and_repeated_keys_keep_the_last_value() {
        let t = read_tree(r#"{"a": 1, "b": 2, "a": 3} trailing"#).unwrap();
        assert_eq!(
            t,
            Tree::Object(vec![
                ("a".into(), Tree::Number(3.into())),
                ("b".into(), Tree::Number(2.into()))
            ])
        );
    }

    #[test]
    fn nulls_are_optional_bytes_when_asked() {
        let s = infer(None, &read_tree(r#"{"n": null}"#).unwrap(), true)
            .unwrap()
            .unwrap();
        assert_eq!(s.fields()[0].schema, Schema::bytes().optional());
        assert_eq!(s.name, None);
    }
}
