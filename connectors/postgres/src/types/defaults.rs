//! Column defaults in schemas, as Debezium's `PostgresDefaultValueConverter` reads them
//! from the catalog's default expression (`pg_get_expr(adbin, adrelid)`).
//!
//! Debezium knows a fixed set of type names (plus every enum). A literal (`42`,
//! `'abc'::text`) gives its value; a function call (`nextval(…)`, `now()`) or one of the
//! `CURRENT_*` keywords gives the type's placeholder (`0`, `1970-01-01`, …); `NULL::…` and
//! anything else gives no default. The literal is then converted by the column's own value
//! converter, as a value of that column would be; a structure (a variable-scale decimal)
//! gives no default (Kafka's KAFKA-12694).

use tributary_core::{SchemaType, Value};

use super::mapping::ColumnMapping;

/// `^[(]?[A-Za-z0-9_.]+\((?:.+(?:, ?.+)*)?\)`: an expression that starts with a call.
fn is_call(expr: &str) -> bool {
    let s = expr.strip_prefix('(').unwrap_or(expr);
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
        .count();
    if name_len == 0 {
        return false;
    }
    let rest = &s[name_len..];
    rest.starts_with('(') && rest[1..].contains(')')
}

const CURRENT_DATE_TIMES: &[&str] = &[
    "current_timestamp",
    "current_time",
    "current_date",
    "localtime",
    "localtimestamp",
];

/// The literal of `expr`, or `placeholder` when it is generated; `None` for `NULL::…`.
fn extract<'a>(expr: &'a str, placeholder: &'a str) -> Option<&'a str> {
    if is_call(expr) || CURRENT_DATE_TIMES.contains(&expr.to_ascii_lowercase().as_str()) {
        return Some(placeholder);
    }
    if !expr.contains('\'') {
        return (!expr.starts_with("NULL::")).then_some(expr);
    }
    // `'(.*?)'`: the text between the first two quotes.
    let start = expr.find('\'')? + 1;
    let end = start + expr[start..].find('\'')?;
    Some(&expr[start..end])
}

/// The default of a column of type `type_name` (`pg_type.typname`; `is_enum` when it is an
/// enum) with default expression `expr`, in the column's `mapping`.
pub fn column_default(
    type_name: &str,
    is_enum: bool,
    expr: &str,
    mapping: &ColumnMapping,
) -> Option<Value> {
    const TRIM: &[&str] = &[
        "bit",
        "varbit",
        "bool",
        "numeric",
        "float4",
        "float8",
        "int2",
        "int4",
        "serial",
        "int8",
        "bigserial",
        "smallserial",
        "uuid",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
    ];
    let expr = if TRIM.contains(&type_name) {
        expr.trim()
    } else {
        expr
    };
    let null_default = |e: &str| e.starts_with("NULL::");
    let text: String = match type_name {
        "bit" => {
            let d = extract(expr, "00")?;
            if d.len() == 1 {
                return Some(Value::Boolean(d == "1"));
            }
            d.to_string()
        }
        "varbit" => extract(expr, "0")?.to_string(),
        "bool" if null_default(expr) => return None,
        "bool" => {
            return Some(Value::Boolean(
                extract(expr, "false")?.eq_ignore_ascii_case("true"),
            ));
        }
        "bpchar" | "varchar" | "text" | "xml" => extract(expr, "")?.to_string(),
        "json" | "jsonb" => extract(expr, "{}")?.to_string(),
        "numeric" | "float4" | "float8" if null_default(expr) => return None,
        "numeric" | "float4" | "float8" => extract(expr, "0.0")?.to_string(),
        "int2" | "int4" | "int8" | "serial" | "bigserial" | "smallserial" if null_default(expr) => {
            return None;
        }
        "int2" | "int4" | "int8" | "serial" | "bigserial" | "smallserial" => {
            extract(expr, "0")?.to_string()
        }
        "uuid" => extract(expr, "00000000-0000-0000-0000-000000000000")?.to_string(),
        "date" => extract(expr, "1970-01-01")?.to_string(),
        "time" => extract(expr, "00:00")?.to_string(),
        "timestamp" => extract(expr, "1970-01-01 00:00:00")?.to_string(),
        "timestamptz" => {
            let t = extract(expr, "1970-01-01 00:00:00")?;
            // Read as an instant: a text without an offset is UTC.
            if t.contains('+') || t.rfind('-').is_some_and(|i| i > 7) {
                t.to_string()
            } else {
                format!("{t}+00")
            }
        }
        "interval" => extract(expr, "epoch")?.to_string(),
        _ if is_enum => {
            let cast = expr.rfind("::")?;
            let literal = &expr[..cast];
            literal
                .strip_prefix('\'')
                .and_then(|l| l.strip_suffix('\''))?
                .to_string()
        }
        _ => return None,
    };
    let value = mapping.parser.parse(&text).ok()?;
    match (&mapping.schema.ty, &value) {
        // A structure cannot be a Connect default (KAFKA-12694).
        (SchemaType::Struct(_), _) | (_, Value::Null) => None,
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_literals_are_told_apart() {
        assert!(is_call("nextval('more_id_seq'::regclass)"));
        assert!(is_call("now()"));
        assert!(!is_call("'abc'::text"));
        assert!(!is_call("42"));
        assert_eq!(extract("nextval('s'::regclass)", "0"), Some("0"));
        assert_eq!(extract("'none'::text", ""), Some("none"));
        assert_eq!(extract("42", "0"), Some("42"));
        assert_eq!(extract("NULL::integer", "0"), None);
        assert_eq!(
            extract("CURRENT_TIMESTAMP", "1970-01-01"),
            Some("1970-01-01")
        );
    }
}
