-- poolcap history store (SQLite). Samples are unique by (series, ts).
CREATE TABLE series (
    id       INTEGER PRIMARY KEY,
    service  TEXT NOT NULL,
    instance TEXT NOT NULL,
    UNIQUE (service, instance)
);

CREATE TABLE samples (
    series       INTEGER NOT NULL REFERENCES series (id),
    ts           INTEGER NOT NULL,
    pool_size    INTEGER NOT NULL,
    checked_out  INTEGER NOT NULL,
    max_overflow INTEGER,
    waiting      INTEGER,
    timeouts     INTEGER,
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;

CREATE INDEX samples_ts ON samples (ts);

CREATE TABLE slowlog_digests (
    period      TEXT NOT NULL,
    source      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (period, source)
);

CREATE TABLE decisions (
    service    TEXT NOT NULL,
    month      TEXT NOT NULL,
    plan       TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (service, month)
);

CREATE TABLE applied_changes (
    id         TEXT PRIMARY KEY,
    service    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    change     TEXT NOT NULL
);
