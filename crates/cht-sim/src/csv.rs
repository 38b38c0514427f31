//! The CSV form of `POST /api/v2/users`: dot-notation headers, `:excluded` columns, booleans.

use serde_json::{Map, Value};

/// RFC 4180 records: quoted fields may hold commas, quotes (`""`) and newlines.
fn records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("CSV has an unterminated quoted field".into());
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows
        .into_iter()
        .filter(|r| r.iter().any(|f| !f.is_empty()))
        .collect())
}

fn set_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                set_path(m, rest, value);
            }
        }
    }
}

/// Turns CSV rows into user objects; rows whose `import.status:excluded` is `imported` or
/// `skipped` are dropped.
pub fn users_from_csv(text: &str) -> Result<Vec<Value>, String> {
    let mut rows = records(text.trim_start_matches('\u{feff}'))?.into_iter();
    let Some(header) = rows.next() else {
        return Ok(Vec::new());
    };
    let status_col = header.iter().position(|h| h == "import.status:excluded");
    let mut out = Vec::new();
    for row in rows {
        if let Some(i) = status_col
            && matches!(row.get(i).map(String::as_str), Some("imported" | "skipped"))
        {
            continue;
        }
        let mut obj = Map::new();
        for (h, v) in header.iter().zip(row) {
            if h.ends_with(":excluded") || h.is_empty() {
                continue;
            }
            let value = match v.as_str() {
                "TRUE" => Value::Bool(true),
                "FALSE" => Value::Bool(false),
                _ => Value::String(v),
            };
            if h == "roles" {
                let roles: Vec<Value> = value
                    .as_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|r| Value::String(r.to_string()))
                    .collect();
                obj.insert("roles".into(), Value::Array(roles));
                continue;
            }
            set_path(&mut obj, h, value);
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_columns_booleans_and_exclusions() {
        let csv = "username,password,roles,place.name,place.type,contact.name,known,note:excluded,import.status:excluded\n\
                   amy,\"Secret,12\",chw,\"My \"\"Place\"\"\",clinic,Amy,TRUE,x,\n\
                   bob,Secret12,chw,P,clinic,Bob,FALSE,y,imported\n";
        let users = users_from_csv(csv).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(
            users[0],
            json!({"username":"amy","password":"Secret,12","roles":["chw"],
                   "place":{"name":"My \"Place\"","type":"clinic"},"contact":{"name":"Amy"},"known":true})
        );
    }
}
