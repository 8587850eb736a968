-- Reports of `poolcap loadtest` (issue 17): one per run, the evidence of the
-- hazard card's testing controls for a service and month.
CREATE TABLE loadtest_runs (
    id          TEXT PRIMARY KEY,
    service     TEXT NOT NULL,
    month       TEXT NOT NULL,
    report      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX loadtest_runs_service_month ON loadtest_runs (service, month);
