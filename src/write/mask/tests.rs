use super::*;

#[test]
fn env_masks_unmanaged_values_on_every_line_they_span() {
    let text = "\u{feff}DATABASE_URL=postgres://app:s3cret@db/clinic\r\nDB_POOL_SIZE=20\r\n\
                PASSWORD=\"p#ss\" # db\r\nPGPASSWORD='first\r\n  second' # c\r\nJUNK=\"a\"b c\r\n\
                # comment\r\n  stray line\r\nEMPTY=\r\n";
    assert_eq!(
        env(text, &["DB_POOL_SIZE"]),
        "\u{feff}DATABASE_URL=********\r\nDB_POOL_SIZE=20\r\nPASSWORD=******** # db\r\n\
         PGPASSWORD=********\r\n  ******** # c\r\nJUNK=********\r\n# comment\r\n  ********\r\nEMPTY=\r\n"
    );
}

#[test]
fn toml_masks_every_value_but_the_managed_ones_at_the_prefix() {
    let text = "\u{feff}url = \"postgres://u:p@h/d\"\n[database.pool]   # pool\npool_size = 20\n\
                hosts = [\n  \"a\",  # primary\n  { pw = 'b', n = [1, 2] },\n]\n\
                key = '''\nline one\n  line two'''\nx.y = 2026-10-01\n\
                [other]\npool_size = \"not ours\"\n[[jobs]]\npool_size = 3\n";
    assert_eq!(
        toml(text, &["database", "pool"], &["pool_size"]),
        "\u{feff}url = ********\n[database.pool]   # pool\npool_size = 20\n\
         hosts = [\n  ********,  # primary\n  { pw = ********, n = [********, ********] },\n]\n\
         key = ********\n********\n  ********\nx.y = ********\n\
         [other]\npool_size = ********\n[[jobs]]\npool_size = ********\n"
    );
    // Managed keys inside inline tables and dotted keys are found too.
    assert_eq!(
        toml(
            "database = { pool = { pool_size = 20, url = \"u\" } }\n",
            &["database", "pool"],
            &["pool_size"]
        ),
        "database = { pool = { pool_size = 20, url = ******** } }\n"
    );
}

#[test]
fn yaml_masks_every_scalar_but_keys_and_the_managed_values() {
    let text = "backend:\n  env:\n    DB_POOL_SIZE: \"20\"  # note\n    DATABASE_URL: postgres://u:p@h/d\n\
                \x20   tls: |\n      -----BEGIN KEY-----\n      abc\n\n    DB_MAX_OVERFLOW: &o 10\n\
                \x20 args:\n    - --password=x\n  flow: {DB_MAX_OVERFLOW: 10, token: abc}\n";
    assert_eq!(
        yaml(text, &["backend", "env"], &["DB_POOL_SIZE", "DB_MAX_OVERFLOW"]),
        "backend:\n  env:\n    DB_POOL_SIZE: \"20\"  # note\n    DATABASE_URL: ********\n\
         \x20   tls: |\n      ********\n      ********\n\n    DB_MAX_OVERFLOW: &o 10\n\
         \x20 args:\n    - ********\n  flow: {DB_MAX_OVERFLOW: ********, token: ********}\n"
    );
}

#[test]
fn yaml_masks_inside_flow_collections_and_continuations() {
    let text = "a: {x: 1, b: [hunter2, 's3cret, pass', {c: \"d\"}]}\nb: [\n  'k3yVal']\n\
                c: first\n  second\nd: \"first\n  second\"\ne: &x !!str >-\n  folded\nf: *x\n\
                ? complex\n: value\n";
    assert_eq!(
        yaml(text, &[], &[]),
        "a: {x: ********, b: [********, ********, {c: ********}]}\nb: [\n  ********]\n\
         c: ********\n  ********\nd: ********\n  ********\ne: &x !!str ********\n  ********\nf: *x\n\
         ? complex\n: ********\n"
    );
}

#[test]
fn yaml_shows_managed_values_of_the_first_document_only() {
    let text = "env:\n  A: 1\n  B: 2\n---\nenv:\n  A: 3\n";
    assert_eq!(
        yaml(text, &["env"], &["A"]),
        "env:\n  A: 1\n  B: ********\n---\nenv:\n  A: ********\n"
    );
    assert_eq!(yaml("A: 1\nenv: {A: 2}\n", &[], &["A"]), "A: 1\nenv: {A: ********}\n");
}

#[test]
fn text_that_does_not_parse_is_masked_whole() {
    assert_eq!(yaml("a: [b\n\n  c: d\n", &[], &["a"]), "********\n\n  ********\n");
    assert_eq!(toml("a = [\"b\"\r\n", &[], &["a"]), "********\r\n");
}

#[test]
fn replace_keeps_indentation_line_endings_and_blank_lines() {
    let text = "k: |\r\n  one\r\n\r\n  two\r\nnext";
    let start = text.find('|').unwrap();
    let end = text.find("\r\nnext").unwrap();
    assert_eq!(
        replace(text, std::iter::once(start..end)),
        "k: ********\r\n  ********\r\n\r\n  ********\r\nnext"
    );
    // Overlapping and empty ranges, and ranges off character boundaries.
    assert_eq!(replace("ab üc", vec![0..2, 1..2, 3..3]), "******** üc");
    assert_eq!(replace("ab üc\nd", std::iter::once(4..5)), "********\n********");
}

proptest::proptest! {
    #[test]
    fn never_panics(text in "(?s).{0,200}", prefix in proptest::option::of("[a-c]")) {
        let prefix: Vec<&str> = prefix.as_deref().into_iter().collect();
        let _ = env(&text, &["a"]);
        let _ = toml(&text, &prefix, &["a"]);
        let _ = yaml(&text, &prefix, &["a"]);
        let _ = ini(&text, &["a"]);
    }
}

#[test]
fn pgbouncer_ini_shows_only_the_pool_sizes() {
    let text = "[databases]\r\nehr = host=db password='s3cret pw' pool_size=25 max_db_connections=40\r\n[pgbouncer]\r\n; keep\r\nauth_file = /etc/pgbouncer/userlist.txt\r\ndefault_pool_size = 20\r\n[users]\r\napp = pool_mode=session\r\n";
    assert_eq!(
        ini(text, &["pool_size", "default_pool_size", "password"]),
        "[databases]\r\nehr = host=******** password=******** pool_size=25 max_db_connections=********\r\n[pgbouncer]\r\n; keep\r\nauth_file = ********\r\ndefault_pool_size = 20\r\n[users]\r\napp = ********\r\n"
    );
    // A file PgBouncer would refuse is masked whole.
    assert_eq!(ini("[pgbouncer]\npassword\n", &[]), "********\n********\n");
}
