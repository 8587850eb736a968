//! Verification of an edit: the edited text is read back and both texts are
//! parsed with `serde_yaml`, which must find them different exactly at the
//! target paths, each holding the intended value.

use serde::Deserialize as _;
use serde_yaml::Value as Yaml;

use super::{YamlError, child_path, failed, read};

/// One value [`edit`] changes.
pub(super) struct Target<'a> {
    /// The dotted path.
    pub(super) path: String,
    pub(super) key: &'a str,
    /// The scalar's new text content.
    pub(super) new_text: String,
    /// What `serde_yaml` must read there after the edit.
    pub(super) expected: Yaml,
}

/// Checks that `after` differs from `before` exactly by the targets' new values.
///
/// `serde_yaml` expands aliases but keeps `<<` as an ordinary key whose value is
/// the expanded merge source, and the trees are compared that way, without
/// applying merges. That is stricter than comparing merged trees (the merged
/// tree is a function of the unmerged one) and sees every copy an alias or a
/// merge makes of a changed value.
pub(super) fn verify(before: &str, after: &str, prefix: &[&str], targets: &[Target<'_>]) -> Result<(), YamlError> {
    let keys: Vec<&str> = targets.iter().map(|target| target.key).collect();
    let read_back = read(after, prefix, &keys).map_err(|err| failed(format!("the edited text reads wrong: {err}")))?;
    for (target, value) in targets.iter().zip(read_back) {
        if value.as_deref() != Some(target.new_text.as_str()) {
            return Err(failed(format!(
                "after the edit `{}` would read {value:?} instead of {:?}",
                target.path, target.new_text
            )));
        }
    }

    let mut old = all_documents(before).map_err(|err| {
        failed(format!(
            "the file could not be checked with a second YAML parser: {err}"
        ))
    })?;
    let mut new = all_documents(after).map_err(|err| failed(format!("the edited text does not parse: {err}")))?;
    if old.is_empty() || old.len() != new.len() {
        return Err(failed("the edited text has a different number of documents".to_owned()));
    }
    for target in targets {
        let not_found = || failed(format!("could not find `{}` with the second YAML parser", target.path));
        let new_value = value_at_mut(&mut new[0], prefix, target.key).ok_or_else(not_found)?;
        if *new_value != target.expected {
            return Err(failed(format!(
                "after the edit `{}` would mean {} instead of {}",
                target.path,
                describe(new_value),
                describe(&target.expected)
            )));
        }
        *new_value = Yaml::Null;
        *value_at_mut(&mut old[0], prefix, target.key).ok_or_else(not_found)? = Yaml::Null;
    }
    for (index, (old, new)) in old.iter().zip(&new).enumerate() {
        if let Some(path) = difference(old, new, String::new()) {
            let path = if path.is_empty() {
                "the whole document".to_owned()
            } else {
                path
            };
            let other = if index == 0 {
                path
            } else {
                format!("{path} (document {})", index + 1)
            };
            let targets = targets
                .iter()
                .map(|target| target.path.as_str())
                .collect::<Vec<_>>()
                .join("`, `");
            return Err(YamlError::SharedValue { targets, other });
        }
    }
    Ok(())
}

fn all_documents(text: &str) -> Result<Vec<Yaml>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .map(Yaml::deserialize)
        .collect()
}

fn value_at_mut<'v>(document: &'v mut Yaml, prefix: &[&str], key: &str) -> Option<&'v mut Yaml> {
    let mut current = document;
    for part in prefix.iter().chain([&key]) {
        current = child_mut(current, part)?;
    }
    Some(current)
}

/// The value under `key`, written as a string or as a plain number, boolean or null.
fn child_mut<'v>(value: &'v mut Yaml, key: &str) -> Option<&'v mut Yaml> {
    match value {
        Yaml::Mapping(mapping) => {
            let as_string = Yaml::String(key.to_owned());
            if mapping.contains_key(&as_string) {
                return mapping.get_mut(&as_string);
            }
            match serde_yaml::from_str::<Yaml>(key).ok()? {
                plain @ (Yaml::Number(_) | Yaml::Bool(_) | Yaml::Null) => mapping.get_mut(&plain),
                _ => None,
            }
        }
        Yaml::Tagged(tagged) => child_mut(&mut tagged.value, key),
        _ => None,
    }
}

/// The dotted path of the first place where `old` and `new` differ, if any.
fn difference(old: &Yaml, new: &Yaml, path: String) -> Option<String> {
    if old == new {
        return None;
    }
    let inner = match (old, new) {
        (Yaml::Mapping(old), Yaml::Mapping(new)) => old
            .iter()
            .find_map(|(key, old_value)| {
                let path = child_path(&path, &key_text(key));
                match new.get(key) {
                    Some(new_value) => difference(old_value, new_value, path),
                    None => Some(path),
                }
            })
            .or_else(|| {
                new.keys()
                    .find(|key| !old.contains_key(*key))
                    .map(|key| child_path(&path, &key_text(key)))
            }),
        (Yaml::Sequence(old), Yaml::Sequence(new)) if old.len() == new.len() => old
            .iter()
            .zip(new)
            .enumerate()
            .find_map(|(index, (old, new))| difference(old, new, format!("{path}[{index}]"))),
        (Yaml::Tagged(old), Yaml::Tagged(new)) if old.tag == new.tag => {
            difference(&old.value, &new.value, path.clone())
        }
        _ => None,
    };
    Some(inner.unwrap_or(path))
}

fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(text) => text.clone(),
        other => serde_yaml::to_string(other).map_or_else(|_| "?".to_owned(), |text| text.trim_end().to_owned()),
    }
}

fn describe(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".to_owned(),
        Yaml::Bool(bool) => format!("the boolean {bool}"),
        Yaml::Number(number) => format!("the number {number}"),
        Yaml::String(text) => format!("the string {text:?}"),
        Yaml::Sequence(_) => "a sequence".to_owned(),
        Yaml::Mapping(_) => "a mapping".to_owned(),
        Yaml::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}
