//! The differences between two JSON documents, as paths a person can read
//! (`services[backend].recommended.pool_size`): what `verify` reports when a
//! recorded decision and its recomputation differ.

use serde_json::Value;

/// One place where the documents differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where: keys joined by `.`, array items by index or, for objects with a
    /// `service` or `name` key, by that name.
    pub path: String,
    /// The value in the first document (`None`: absent there).
    pub before: Option<Value>,
    /// The value in the second.
    pub after: Option<Value>,
}

/// Every leaf that differs between `a` and `b`, in document order; paths
/// for which `skip` is true are not compared.
pub fn differences(a: &Value, b: &Value, skip: &dyn Fn(&str) -> bool) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("", Some(a), Some(b), skip, &mut out);
    out
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, skip: &dyn Fn(&str) -> bool, out: &mut Vec<Difference>) {
    if skip(path) {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(&p, x.get(k), y.get(k), skip, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => match (names(x), names(y)) {
            // Named items (services, findings, files) are matched by name, so
            // that one finding more does not shift every later one.
            (Some(nx), Some(ny)) => {
                for (i, name) in nx.iter().enumerate() {
                    let j = ny.iter().position(|n| n == name);
                    walk(
                        &format!("{path}[{name}]"),
                        x.get(i),
                        j.and_then(|j| y.get(j)),
                        skip,
                        out,
                    );
                }
                for (j, name) in ny.iter().enumerate() {
                    if !nx.contains(name) {
                        walk(&format!("{path}[{name}]"), None, y.get(j), skip, out);
                    }
                }
            }
            _ => {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}[{i}]"), x.get(i), y.get(i), skip, out);
                }
            }
        },
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path: path.to_string(),
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

/// Each item's name, when every item has one and no two share it.
fn names(items: &[Value]) -> Option<Vec<String>> {
    let names: Vec<String> = items.iter().map(item_name).collect::<Option<_>>()?;
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    (sorted.len() == names.len()).then_some(names)
}

fn item_name(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    ["service", "path", "name", "code"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// A value for a one-line report: strings unquoted, others as JSON, long
/// ones shortened.
pub fn short(v: &Option<Value>) -> String {
    let text = match v {
        None => "(absent)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(119).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_named_by_path_and_service() {
        let a = json!({"month": "2026-10", "services": [{"service": "backend", "recommended": {"pool_size": 38}}, {"service": "worker", "recommended": {"pool_size": 10}}], "x": 1});
        let b = json!({"month": "2026-10", "services": [{"service": "backend", "recommended": {"pool_size": 33}}, {"service": "worker", "recommended": {"pool_size": 10}}], "y": 2});
        let d = differences(&a, &b, &|p| p == "x");
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["services[backend].recommended.pool_size", "y"]);
        assert_eq!(short(&d[0].before), "38");
        assert_eq!(short(&d[1].before), "(absent)");
        assert!(differences(&a, &a, &|_| false).is_empty());
        // A finding more does not shift the others.
        let a = json!({"findings": [{"code": "sizing", "n": 1}, {"code": "slow", "n": 2}]});
        let b =
            json!({"findings": [{"code": "sizing", "n": 1}, {"code": "sustained", "n": 3}, {"code": "slow", "n": 2}]});
        let d = differences(&a, &b, &|_| false);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "findings[sustained]");
        assert!(d[0].before.is_none());
        // Unnamed items compare by position.
        let d = differences(&json!([1, 2]), &json!([1, 3, 4]), &|_| false);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["[1]", "[2]"]);
    }
}
