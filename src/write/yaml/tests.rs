use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use saphyr_parser::{Event, Parser};
use serde_yaml::Value as Yaml;

use super::*;
use crate::write::Value::{Bool, Int};

/// In/out fixtures: `tests/fixtures/yaml/<case>/in.yaml` edited with the
/// prefix and changes below must give `out.yaml` byte for byte.
mod fixtures {
    use super::*;

    fn fixture(case: &str, file: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/yaml")
            .join(case)
            .join(file);
        fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    /// Also checks that the new values read back and that a second edit changes nothing.
    fn check(case: &str, prefix: &[&str], changes: &[(&str, Value)]) {
        let input = fixture(case, "in.yaml");
        let expected = fixture(case, "out.yaml");
        let edited = edit(&input, prefix, changes).unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_eq!(edited, expected, "{case}");
        let keys: Vec<&str> = changes.iter().map(|(key, _)| *key).collect();
        let values: Vec<Option<String>> = changes.iter().map(|(_, value)| Some(value.to_string())).collect();
        assert_eq!(read(&edited, prefix, &keys), Ok(values), "{case}");
        assert_eq!(
            edit(&edited, prefix, changes),
            Ok(edited),
            "{case}: a second edit changes nothing"
        );
    }

    macro_rules! fixture_tests {
        ($($case:ident: $prefix:expr, $changes:expr;)*) => {
            $(
                #[test]
                fn $case() {
                    check(stringify!($case), &$prefix, &$changes);
                }
            )*
        };
    }

    fixture_tests! {
        // Several sections, comments everywhere, `"abc#def"`, a comment after the target.
        helm_values: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(13))];
        // Quoted strings in `data`, a boolean written as a string.
        configmap: ["data"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12)), ("DB_POOL_PRE_PING", Bool(true))];
        // Anchors, aliases and `<<` merges elsewhere; anchored targets no alias uses.
        anchors_and_merge: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(14))];
        flow_map: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(15)), ("DB_ECHO", Bool(true))];
        // A flow map over several lines, with a quoted key, blanks before commas and a comment.
        flow_map_multiline: ["worker", "env"], [("DB_POOL_SIZE", Int(9)), ("DB_MAX_OVERFLOW", Int(3))];
        // Quoted keys; single-quoted, double-quoted, plain number and plain boolean values.
        quoting_styles: ["app", "settings"], [
            ("DB_POOL_SIZE", Int(25)),
            ("DB_MAX_OVERFLOW", Int(11)),
            ("DB_POOL_TIMEOUT", Int(-1)),
            ("DB_POOL_PRE_PING", Bool(false)),
        ];
        crlf: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))];
        no_trailing_newline: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(11))];
        // Multi-byte characters before the targets, on earlier lines and on the same line.
        non_ascii: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))];
        // Only the first document is edited.
        multi_document: ["backend", "env"], [("DB_POOL_SIZE", Int(25))];
        byte_order_mark: ["backend", "env"], [("DB_POOL_SIZE", Int(25))];
        top_level_keys: [], [("DB_POOL_SIZE", Int(30))];
        // New values equal to the old ones leave the text untouched (out.yaml = in.yaml).
        unchanged_values: ["backend", "env"], [("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(10)), ("DB_POOL_PRE_PING", Bool(true))];
    }
}

const HELM: &str = "\
backend:
  image: shop/backend
  env:
    DB_POOL_SIZE: \"20\"
";

#[test]
fn saphyr_markers_count_characters_and_quoted_spans_run_past_the_quote() {
    // Pins what the module relies on (see the module documentation).
    let text = "# Überwachung ✓\nkey: &a \"20\"   # note\nplain: 7 # n\n";
    let scalars: Vec<(usize, usize)> = Parser::new_from_str(text)
        .map(Result::unwrap)
        .filter(|(event, _)| matches!(event, Event::Scalar(..)))
        .map(|(_, span)| (span.start.index(), span.end.index()))
        .collect();
    // Line 2 starts at character 16 (byte 19): indices count characters.
    assert_eq!(scalars[0], (16, 19));
    // The quoted value's span starts at its anchor and ends after the comment.
    assert_eq!(scalars[1], (21, 37));
    // A plain value's span is exact.
    assert_eq!(scalars[3], (45, 46));
    let doc = Document::parse(text).unwrap();
    let mapping = doc.find_mapping(&[]).unwrap();
    let quoted = doc.find_scalar(&mapping, "key").unwrap().unwrap();
    assert_eq!(locate_scalar(text, &quoted).map(|range| &text[range]), Some("\"20\""));
    let plain = doc.find_scalar(&mapping, "plain").unwrap().unwrap();
    assert_eq!(locate_scalar(text, &plain).map(|range| &text[range]), Some("7"));
}

#[test]
fn read_gives_the_unquoted_text_and_none_for_a_missing_key() {
    let text = "env:\n  A: \"2\\u0030\"\n  B: 'it''s'\n  C: true\n  D: |\n    x\n";
    let values = read(text, &["env"], &["A", "B", "C", "D", "E"]).unwrap();
    let expected = [Some("20"), Some("it's"), Some("true"), Some("x\n"), None];
    assert_eq!(values, expected.map(|value| value.map(str::to_owned)));
}

#[test]
fn a_missing_prefix_part_is_named_with_the_line_of_the_deepest_existing_part() {
    let err = edit(HELM, &["backend", "envs"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::PathNotFound {
            path: "backend.envs".into(),
            missing: "envs".into(),
            parent: "backend".into(),
            line: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot find `backend.envs`: there is no key `envs` in `backend` (line 1)"
    );

    let err = read(HELM, &["frontend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot find `frontend`: there is no key `frontend` in the top level of the document (line 1)"
    );
}

#[test]
fn edit_never_inserts_a_missing_key() {
    assert_eq!(read(HELM, &["backend", "env"], &["DB_MAX_OVERFLOW"]), Ok(vec![None]));
    let err = edit(
        HELM,
        &["backend", "env"],
        &[("DB_POOL_SIZE", Int(25)), ("DB_MAX_OVERFLOW", Int(12))],
    );
    let err = err.unwrap_err();
    assert_eq!(
        err,
        YamlError::KeyMissing {
            path: "backend.env.DB_MAX_OVERFLOW".into(),
            key: "DB_MAX_OVERFLOW".into(),
            parent: "backend.env".into(),
            line: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "`backend.env.DB_MAX_OVERFLOW` does not exist: add `DB_MAX_OVERFLOW` to `backend.env` (line 3) first \
             (poolcap changes values but never adds keys to YAML files)"
    );
}

#[test]
fn a_mapping_or_sequence_target_is_refused() {
    let expected = YamlError::NotAScalar {
        path: "backend.env".into(),
        line: 3,
        found: "a mapping",
    };
    assert_eq!(read(HELM, &["backend"], &["env"]), Err(expected.clone()));
    assert_eq!(edit(HELM, &["backend"], &[("env", Int(1))]), Err(expected));
    let text = "backend:\n  ports: [80, 443]\n";
    let err = edit(text, &["backend"], &[("ports", Int(1))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`backend.ports` at line 2 is a sequence, not a single value"
    );
}

#[test]
fn a_prefix_part_that_is_not_a_mapping_is_refused() {
    let err = read("backend: 3\n", &["backend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
    assert_eq!(
        err,
        YamlError::NotAMapping {
            path: "backend".into(),
            line: 1,
            found: "a single value"
        }
    );
    let err = read("backend:\n", &["backend", "env"], &["DB_POOL_SIZE"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`backend` at line 1 is empty, not a mapping, so it has no keys to look in"
    );
    let err = read("- a\n- b\n", &[], &["DB_POOL_SIZE"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the document at line 1 is a sequence, not a mapping, so it has no keys to look in"
    );
}

#[test]
fn an_alias_target_is_refused_with_the_anchor_to_edit() {
    let text = "sizes:\n  default: &size 20\nbackend:\n  env:\n    DB_POOL_SIZE: *size\n";
    let expected = YamlError::Alias {
        path: "backend.env.DB_POOL_SIZE".into(),
        line: 5,
        anchor: "size".into(),
        anchor_line: 2,
    };
    assert_eq!(
        read(text, &["backend", "env"], &["DB_POOL_SIZE"]),
        Err(expected.clone())
    );
    let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "`backend.env.DB_POOL_SIZE` at line 5 is an alias (`*size`) of the value anchored as `&size` at line 2; \
             edit that value instead, or give `backend.env.DB_POOL_SIZE` its own value"
    );
}

#[test]
fn an_alias_on_the_prefix_is_refused() {
    let text = "base: &env\n  DB_POOL_SIZE: 20\nbackend:\n  env: *env\n";
    let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::Alias {
            path: "backend.env".into(),
            line: 4,
            anchor: "env".into(),
            anchor_line: 1
        }
    );
}

#[test]
fn an_anchored_target_aliased_elsewhere_is_refused_by_verification() {
    let text = "backend:\n  env:\n    DB_POOL_SIZE: &size 20\nworker:\n  env:\n    DB_POOL_SIZE: *size\n";
    let err = edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::SharedValue {
            targets: "backend.env.DB_POOL_SIZE".into(),
            other: "worker.env.DB_POOL_SIZE".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "refusing to edit: changing `backend.env.DB_POOL_SIZE` would also change `worker.env.DB_POOL_SIZE`; \
             the value is probably shared through an anchor (`&`) and an alias (`*`) or a `<<` merge, \
             so give it its own value first"
    );
    // The same value unchanged is fine.
    assert_eq!(
        edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(20))]),
        Ok(text.to_owned())
    );
}

#[test]
fn a_target_in_a_merged_mapping_is_refused_by_verification() {
    let text = "base: &base\n  DB_POOL_SIZE: 20\nbackend:\n  env:\n    <<: *base\n    DB_MAX_OVERFLOW: 10\n";
    let err = edit(text, &["base"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::SharedValue {
            targets: "base.DB_POOL_SIZE".into(),
            other: "backend.env.<<.DB_POOL_SIZE".into()
        }
    );
}

#[test]
fn a_key_inherited_through_a_merge_is_refused() {
    let text = "base: &base\n  DB_POOL_SIZE: 20\nbackend:\n  env:\n    <<: [*base]\n    DB_MAX_OVERFLOW: 10\n";
    let expected = YamlError::Inherited {
        path: "backend.env.DB_POOL_SIZE".into(),
        key: "DB_POOL_SIZE".into(),
        merge_line: 5,
    };
    assert_eq!(
        read(text, &["backend", "env"], &["DB_POOL_SIZE"]),
        Err(expected.clone())
    );
    assert_eq!(
        edit(text, &["backend", "env"], &[("DB_POOL_SIZE", Int(25))]),
        Err(expected)
    );
    assert_eq!(
        read(text, &["backend", "env"], &["DB_MAX_OVERFLOW", "OTHER"]),
        Ok(vec![Some("10".into()), None])
    );
}

#[test]
fn a_block_scalar_target_is_refused() {
    let text = "env:\n  DB_POOL_SIZE: |\n    20\n";
    let err = edit(text, &["env"], &[("DB_POOL_SIZE", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::BlockScalar {
            path: "env.DB_POOL_SIZE".into(),
            line: 2
        }
    );
    let err = edit(
        "env:\n  DB_POOL_SIZE: >-\n    20\n",
        &["env"],
        &[("DB_POOL_SIZE", Int(25))],
    )
    .unwrap_err();
    assert!(matches!(err, YamlError::BlockScalar { line: 2, .. }), "{err:?}");
}

#[test]
fn tagged_and_empty_targets_are_refused() {
    let text = "env:\n  A: !!str 20\n  B:\n  C: ~\n";
    let err = edit(text, &["env"], &[("A", Int(25))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::UnsupportedValue {
            path: "env.A".into(),
            line: 2,
            problem: "has an explicit tag"
        }
    );
    let err = edit(text, &["env"], &[("B", Int(25))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`env.B` at line 3 has no value (it is empty); poolcap does not edit such values, \
             so write a plain or quoted value first"
    );
    // `~` is written, so it can be replaced.
    assert_eq!(
        edit(text, &["env"], &[("C", Int(25))]),
        Ok("env:\n  A: !!str 20\n  B:\n  C: 25\n".to_owned())
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let err = read("backend:\n  env: {DB_POOL_SIZE: 20\n", &["backend"], &["env"]).unwrap_err();
    assert!(matches!(err, YamlError::Syntax { line: 3, .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("YAML syntax error at line 3, column 1: "),
        "{err}"
    );
    // Also in a later document, which is otherwise ignored.
    let err = edit("a: 1\n---\nb: [\n", &[], &[("a", Int(2))]).unwrap_err();
    assert!(matches!(err, YamlError::Syntax { line: 4, .. }), "{err:?}");
}

#[test]
fn duplicate_keys_are_refused() {
    let text = "env:\n  A: 1\n  A: 2\n";
    let err = read(text, &["env"], &["A"]).unwrap_err();
    assert_eq!(
        err,
        YamlError::DuplicateKey {
            path: "env.A".into(),
            first_line: 2,
            second_line: 3
        }
    );
    let err = edit(
        HELM,
        &["backend", "env"],
        &[("DB_POOL_SIZE", Int(25)), ("DB_POOL_SIZE", Int(26))],
    );
    assert_eq!(
        err,
        Err(YamlError::DuplicateChange {
            path: "backend.env.DB_POOL_SIZE".into()
        })
    );
}

#[test]
fn an_empty_document_is_refused() {
    for text in ["", "# only a comment\n", "---\n"] {
        assert_eq!(read(text, &[], &["A"]), Err(YamlError::EmptyDocument), "{text:?}");
    }
}

#[test]
fn verification_refuses_any_other_change() {
    let target = |expected| Target {
        path: "a".into(),
        key: "a",
        new_text: "5".into(),
        expected,
    };
    let err = verify("a: 1\nb: 2\n", "a: 5\nb: 3\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
    assert_eq!(
        err,
        YamlError::SharedValue {
            targets: "a".into(),
            other: "b".into()
        }
    );
    let err = verify("a: 1\n", "a: \"5\"\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to edit: after the edit `a` would mean the string \"5\" instead of the number 5"
    );
    let err = verify("a: 1\n", "a: 6\n", &[], &[target(Yaml::Number(5.into()))]).unwrap_err();
    assert!(matches!(err, YamlError::Verification { .. }), "{err:?}");
    assert_eq!(
        verify("a: 1\n", "a: 5\n", &[], &[target(Yaml::Number(5.into()))]),
        Ok(())
    );
}

/// YAML-like text around a mapping `a` with keys `b` and `c`, so that edits
/// sometimes succeed.
fn yamlish() -> impl Strategy<Value = String> {
    let value = prop::sample::select(vec![
        "20",
        "\"20\"",
        "'20'",
        "&x 20",
        "*x",
        "|\n    20",
        "{d: 1}",
        "true",
        "",
        "~",
        "!!str 2",
        "'a''b'",
    ]);
    let shape = (
        value.clone(),
        value,
        "[ #a-c:\"'\n{}\\[\\],&*-]{0,12}",
        "[ -~\n\r\tüÜ✓]{0,20}",
    );
    prop_oneof![
        any::<String>(),
        "[ a-c:\"'#&*!|>{}\\[\\],\\-\n\r\t0-9ü✓]{0,60}",
        shape.prop_map(|(b, c, middle, tail)| format!("x: &x 1\na:\n  b: {b}{middle}\n  c: {c}\n{tail}")),
        shape_flow(),
    ]
}

fn shape_flow() -> impl Strategy<Value = String> {
    ("[ \n]{0,3}", "[ #\n,]{0,4}").prop_map(|(before, after)| format!("a: {{{before}b: \"1\",{after} c: 2}}\n"))
}

proptest! {
    #[test]
    fn edit_never_panics_and_what_it_writes_reads_back(
        text in yamlish(),
        top_level in any::<bool>(),
        size in -100i64..1000,
        flag in any::<bool>(),
    ) {
        let prefix: &[&str] = if top_level { &[] } else { &["a"] };
        let changes = [("b", Int(size)), ("c", Bool(flag))];
        if let Ok(edited) = edit(&text, prefix, &changes) {
            let values = read(&edited, prefix, &["b", "c"]);
            prop_assert_eq!(values, Ok(vec![Some(size.to_string()), Some(flag.to_string())]));
        }
    }
}
