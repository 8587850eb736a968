//! How names a user chose (services, instances, alert rules) become names with
//! stricter rules elsewhere: file stems inside an output folder and Prometheus
//! alert names. Pure and deterministic: the same name always gives the same
//! result, on every machine and in every version (the hash is FNV-1a, written
//! down here, not the standard library's randomly seeded one).
//!
//! Both mappings keep a plain name as it is (`backend`, `reports-worker`,
//! `warning` → `…Warning`) and add `-`/`_` and six hex digits of the name's
//! hash to any name they had to change, so two changed names do not meet.

/// Six hex digits of the FNV-1a 64-bit hash of `name` (its top 24 bits).
pub fn short_hash(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:06x}", h >> 40)
}

/// The longest slug kept before the hash suffix (file names are limited to
/// 255 bytes, and the chart's kind and extension come on top).
const MAX_SLUG: usize = 100;

/// A file stem for `name` that stays inside its folder: ASCII letters, digits,
/// `-`, `_` and `.` are kept, any other character becomes `-`, a leading dot
/// becomes `-` (no hidden files, no `..`), and at most 100 characters are
/// kept. When that changed the name (or it was empty), `-` and
/// [`short_hash`] of the original name are appended: `clinic/backend` →
/// `clinic-backend-1a2b3c`, while `backend` stays `backend`.
pub fn file_stem(name: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_SLUG)
        .collect();
    let dots = slug.len() - slug.trim_start_matches('.').len();
    slug.replace_range(..dots, &"-".repeat(dots));
    if slug == name && !slug.is_empty() {
        slug
    } else {
        format!("{slug}-{}", short_hash(name))
    }
}

/// Whether `name` is a valid Prometheus alert (and label) name:
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_alert_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Prometheus alert name of the alert rule called `rule`:
/// `DbPoolUtilization` and the rule's words in camel case (`warning` →
/// `DbPoolUtilizationWarning`, `page-me now` → `DbPoolUtilizationPageMeNow`;
/// words are split at `-`, `_` and spaces). A name with any other character
/// (`ü`, `warn {{`, `p1/p2`) also gets `_` and [`short_hash`] of the name
/// (`ü` → `DbPoolUtilization_xxxxxx`), so no two such rules share an alert
/// name by accident. Two rules whose names differ only in case or separators
/// (`warning`, `Warning`) do map to one name: the config rejects that.
pub fn alert_name(rule: &str) -> String {
    let mut name = String::from("DbPoolUtilization");
    let plain = rule
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' '));
    for word in rule
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    if !plain {
        name.push('_');
        name.push_str(&short_hash(rule));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_names_keep_their_file_names() {
        for name in [
            "backend",
            "worker",
            "reports-worker",
            "backend-0-w1",
            "a_b.c",
            "slow-queries",
        ] {
            assert_eq!(file_stem(name), name);
        }
    }

    #[test]
    fn other_names_are_slugged_with_their_hash() {
        let h = |n| short_hash(n);
        assert_eq!(
            file_stem("clinic/backend"),
            format!("clinic-backend-{}", h("clinic/backend"))
        );
        assert_eq!(file_stem("../../x"), format!("---..-x-{}", h("../../x")));
        assert_eq!(file_stem(".hidden"), format!("-hidden-{}", h(".hidden")));
        assert_eq!(file_stem(""), format!("-{}", h("")));
        assert_eq!(file_stem("ü"), format!("--{}", h("ü")));
        assert_eq!(
            file_stem("x|y\n# injected"),
            format!("x-y---injected-{}", h("x|y\n# injected"))
        );
        // Two names with one slug get different stems.
        assert_ne!(file_stem("a/b"), file_stem("a\\b"));
        assert_ne!(file_stem("a/b"), file_stem("a-b"));
        // Long names are cut, well under the file-name limit.
        assert_eq!(file_stem(&"x".repeat(300)).len(), 100 + 7);
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a of the empty string and of "a" (published test vectors).
        assert_eq!(short_hash(""), "cbf29c");
        assert_eq!(short_hash("a"), "af63dc");
    }

    #[test]
    fn alert_names() {
        assert_eq!(alert_name("warning"), "DbPoolUtilizationWarning");
        assert_eq!(alert_name("critical"), "DbPoolUtilizationCritical");
        assert_eq!(alert_name("page-me now"), "DbPoolUtilizationPageMeNow");
        assert_eq!(alert_name("ü"), format!("DbPoolUtilization_{}", short_hash("ü")));
        assert_ne!(alert_name("ü"), alert_name("ö"));
        assert_eq!(
            alert_name("warn {{"),
            format!("DbPoolUtilizationWarn_{}", short_hash("warn {{"))
        );
        assert_eq!(alert_name("warning"), alert_name("Warning"));
    }

    proptest! {
        /// Any name gives a stem that is one path component inside the folder.
        #[test]
        fn stems_stay_inside_the_folder(name in "\\PC*") {
            let stem = file_stem(&name);
            prop_assert!(!stem.is_empty() && !stem.starts_with('.'));
            prop_assert!(stem.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
            let path = std::path::Path::new(&stem);
            prop_assert_eq!(path.components().count(), 1);
            prop_assert!(matches!(path.components().next(), Some(std::path::Component::Normal(_))));
        }

        /// Any rule name gives a valid alert name.
        #[test]
        fn alert_names_are_valid(name in "\\PC*") {
            prop_assert!(is_alert_name(&alert_name(&name)));
        }
    }
}
