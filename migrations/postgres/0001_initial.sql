-- poolcap history store (PostgreSQL). Samples are unique by (series, ts).
CREATE TABLE series (
    id       SERIAL PRIMARY KEY,
    service  TEXT NOT NULL,
    instance TEXT NOT NULL,
    UNIQUE (service, instance)
);

CREATE TABLE samples (
    series       INTEGER NOT NULL REFERENCES series (id),
    ts           BIGINT NOT NULL,
    pool_size    INTEGER NOT NULL,
    checked_out  INTEGER NOT NULL,
    max_overflow INTEGER,
    waiting      INTEGER,
    timeouts     BIGINT,
    PRIMARY KEY (series, ts)
);

CREATE INDEX samples_ts ON samples (ts);

CREATE TABLE slowlog_digests (
    period      TEXT NOT NULL,
    source      TEXT NOT NULL,
    digest      JSONB NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (period, source)
);

CREATE TABLE decisions (
    service    TEXT NOT NULL,
    month      TEXT NOT NULL,
    plan       JSONB NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (service, month)
);

CREATE TABLE applied_changes (
    id         TEXT PRIMARY KEY,
    service    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    change     JSONB NOT NULL
);
