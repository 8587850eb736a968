use super::*;

#[test]
fn host_and_port_without_the_password() {
    assert_eq!(
        host_port("postgres://app:s3cret@db.internal:6432/clinic"),
        ("db.internal".into(), 6432)
    );
    assert_eq!(host_port("mysql://root@127.0.0.1/test"), ("127.0.0.1".into(), 3306));
    assert_eq!(host_port("postgresql://db"), ("db".into(), 5432));
    let text = "error returned from database: password authentication failed for user \"app\" (s3cret)";
    assert!(!scrub(text, "postgres://app:s3cret@db/clinic").contains("s3cret"));
}
