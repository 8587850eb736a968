//! A Prometheus server's HTTP API as a metrics source (`--prometheus URL`):
//! the connection (URL, basic auth from the URL, a bearer token, a private
//! CA, extra headers such as Mimir's `X-Scope-OrgID`), one request with its
//! retries and its errors worded for a person, the range queries a window
//! is split into, and fetching them on a few threads while the answers are
//! handed on in order.
//!
//! Requests are `POST` forms (a selector naming hundreds of services does
//! not fit a URL), asking for gzip; the bytes transferred are counted as
//! they arrive, before decompression. Retries: a 5xx answer, a timeout or a
//! dropped connection is tried again after 0.5 s, 1 s, 2 s, …; a refused
//! connection or an unknown host fails at once (the address is wrong or the
//! server is down; waiting will not help), as does any 4xx (the query or
//! the credentials are wrong). A 4xx/5xx error quotes the server's
//! `errorType` and `error`. Nothing printed carries the URL's password or
//! the token.
//!
//! A range query asks for the points at `start`, `start + step`, … `end`
//! (both ends included, as Prometheus evaluates); [`range_chunks`] cuts a
//! window into such queries that neither overlap nor leave a step out, each
//! of at most [`MAX_POINTS_PER_SERIES`] points.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;

/// Prometheus answers a range query with at most this many points a series.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `http(s)://[user:password@]host[:port][/prefix]`.
    pub url: String,
    /// A bearer token (`POOLCAP_PROMETHEUS_TOKEN`).
    pub token: Option<String>,
    /// A file holding the bearer token (read when the client is made).
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA(s) to trust instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Extra headers, each `Name: value`.
    pub headers: Vec<String>,
    /// The longest one request may take, answer included.
    pub timeout: Duration,
    /// How often a failed request is tried again (5xx, timeouts, dropped connections).
    pub retries: u32,
}

/// A failure talking to the server, as a sentence naming the server (never
/// its password) and, for a query, the query.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The URL, CA file or a header is not usable.
    #[error("--prometheus {url}: {why}")]
    Setup {
        /// The server, password hidden.
        url: String,
        /// What is wrong, and the fix.
        why: String,
    },
    /// No connection could be made.
    #[error("cannot reach Prometheus at {url}: {why}; check the address and that the server is up")]
    Unreachable {
        /// The server.
        url: String,
        /// Why.
        why: String,
    },
    /// The server asks for credentials or refuses them.
    #[error(
        "Prometheus at {url} answered HTTP {status} ({text}) to {what}: give the user and password in the URL (https://user:password@host) or a bearer token in POOLCAP_PROMETHEUS_TOKEN or --prometheus-token-file"
    )]
    Unauthorized {
        /// The server.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The server's text.
        text: String,
        /// The request.
        what: String,
    },
    /// The server refused or failed the request.
    #[error("Prometheus at {url} answered HTTP {status} to {what}: {text}{fix}")]
    Answer {
        /// The server.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The request.
        what: String,
        /// `errorType: error` from the answer, or its first bytes.
        text: String,
        /// A fix for a known error, starting with `; `.
        fix: String,
    },
    /// The connection broke or timed out, also on the last retry.
    #[error("Prometheus at {url} did not answer {what}: {why} (tried {tries} times)")]
    Failed {
        /// The server.
        url: String,
        /// The request.
        what: String,
        /// The last failure.
        why: String,
        /// Attempts made.
        tries: u32,
    },
    /// A 200 answer that is not the API's JSON.
    #[error("Prometheus at {url} answered {what} with something that is not an API answer: {why}")]
    BadAnswer {
        /// The server.
        url: String,
        /// The request.
        what: String,
        /// What is wrong with it.
        why: String,
    },
}

/// What a client has sent and received, for the summary and the benchmark.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Requests answered (retries not counted).
    pub requests: AtomicU64,
    /// Requests tried again.
    pub retries: AtomicU64,
    /// Body bytes received, as transferred (compressed).
    pub bytes: AtomicU64,
}

/// A connection to one Prometheus server (or anything answering its API:
/// Thanos, Mimir, VictoriaMetrics).
pub struct Client {
    agent: ureq::Agent,
    /// `scheme://host[:port][/prefix]`, no credentials, no trailing slash.
    base: String,
    /// Headers sent with every request, `Authorization` included.
    headers: Vec<(String, String)>,
    retries: u32,
    /// What was sent and received.
    pub traffic: Traffic,
}

/// One range query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeQuery {
    /// PromQL.
    pub query: String,
    /// First evaluation, Unix seconds.
    pub start: i64,
    /// Last evaluation (included).
    pub end: i64,
    /// Seconds between evaluations.
    pub step: i64,
}

impl RangeQuery {
    /// Evaluations (points a series may have).
    pub fn points(&self) -> i64 {
        (self.end - self.start) / self.step + 1
    }

    /// `the query … at <start> … <end> every Ns`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "the range query {} from {} to {} every {} s",
            clip_query(&self.query),
            when(self.start),
            when(self.end),
            self.step
        )
    }
}

/// The evaluation times of `[from, to)` on the grid of multiples of `step`,
/// as chunks `(start, end)` (both evaluated) of at most `max_points` points
/// each: consecutive chunks are one step apart, so every grid time is in
/// exactly one. Empty when no grid time falls in the window.
pub fn range_chunks(from: i64, to: i64, step: i64, max_points: i64) -> Vec<(i64, i64)> {
    assert!(
        step > 0 && max_points > 0,
        "range_chunks needs a positive step and size"
    );
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    let last = (to - 1).div_euclid(step) * step;
    let mut out = Vec::new();
    let mut start = first;
    while start <= last {
        let end = (start + (max_points - 1) * step).min(last);
        out.push((start, end));
        start = end + step;
    }
    out
}

impl Client {
    /// A client for `options`; checks the URL, the CA file and the headers
    /// without contacting the server.
    pub fn new(options: &ClientOptions) -> Result<Client, ApiError> {
        let shown = shown_url(&options.url);
        let setup = |why: String| ApiError::Setup {
            url: shown.clone(),
            why,
        };
        let url = parse_url(&options.url).map_err(setup)?;
        let token = match &options.token_file {
            Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
                setup(format!(
                    "cannot read the token file {}: {}",
                    file.display(),
                    crate::support::io_text(&e)
                ))
            })?),
            None => options.token.clone(),
        };
        let mut headers = Vec::new();
        match (&url.basic, &token) {
            (Some(_), Some(_)) => {
                return Err(setup(
                    "both a user and password in the URL and a bearer token are given; keep one".into(),
                ));
            }
            (Some((user, password)), None) => {
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push(("Authorization".to_string(), format!("Basic {pair}")));
            }
            (None, Some(token)) => {
                let token = token.trim();
                if token.is_empty() {
                    return Err(setup("the bearer token is empty".into()));
                }
                headers.push(("Authorization".to_string(), format!("Bearer {token}")));
            }
            (None, None) => {}
        }
        for header in &options.headers {
            let Some((name, value)) = header.split_once(':') else {
                return Err(setup(format!(
                    "the header {header:?} is not `Name: value` (e.g. \"X-Scope-OrgID: clinical\")"
                )));
            };
            let (name, value) = (name.trim(), value.trim());
            if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || ureq::http::HeaderValue::from_str(value).is_err()
            {
                return Err(setup(format!("the header {name:?} is not a valid HTTP header")));
            }
            if name.eq_ignore_ascii_case("authorization") && headers.iter().any(|(n, _)| n == "Authorization") {
                return Err(setup(
                    "an Authorization header is given twice (credentials in the URL or a token, and --prometheus-header)"
                        .into(),
                ));
            }
            headers.push((name.to_string(), value.to_string()));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                setup(format!(
                    "cannot read the CA file {}: {}",
                    ca.display(),
                    crate::support::io_text(&e)
                ))
            })?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| setup(format!("the CA file {} is not PEM: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(setup(format!("the CA file {} holds no certificate", ca.display())));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(options.timeout))
            .user_agent(format!("poolcap/{}", env!("CARGO_PKG_VERSION")))
            .max_redirects(0)
            .build();
        Ok(Client {
            agent: config.new_agent(),
            base: url.base,
            headers,
            retries: options.retries,
            traffic: Traffic::default(),
        })
    }

    /// The server as messages name it (no credentials).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The body of the answer to `range`: the JSON the range query returns
    /// (checked to be an answer; its series are for the caller to read).
    pub fn query_range(&self, range: &RangeQuery) -> Result<Vec<u8>, ApiError> {
        let form = [
            ("query", range.query.clone()),
            ("start", range.start.to_string()),
            ("end", range.end.to_string()),
            ("step", range.step.to_string()),
        ];
        self.post("/api/v1/query_range", &form, &|| range.describe())
    }

    /// The answer to an instant query at `time` (Unix seconds), parsed.
    pub fn query(&self, query: &str, time: i64) -> Result<serde_json::Value, ApiError> {
        let form = [("query", query.to_string()), ("time", time.to_string())];
        let what = || format!("the query {} at {}", clip_query(query), when(time));
        let body = self.post("/api/v1/query", &form, &what)?;
        self.data(&body, &what)
    }

    /// The answers to instant queries `(query, time)`, on up to
    /// `concurrency` threads, in the order asked; the first error (in that
    /// order) if any failed.
    pub fn queries(&self, queries: &[(String, i64)], concurrency: usize) -> Result<Vec<serde_json::Value>, ApiError> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let answers: Vec<std::sync::Mutex<Option<Result<serde_json::Value, ApiError>>>> =
            queries.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..concurrency.clamp(1, queries.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((query, time)) = queries.get(i) else {
                            break;
                        };
                        let answer = self.query(query, *time);
                        let failed = answer.is_err();
                        if let Ok(mut slot) = answers[i].lock() {
                            *slot = Some(answer);
                        }
                        if failed {
                            // The others stop at their next query.
                            next.store(queries.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                });
            }
        });
        let mut out = Vec::with_capacity(queries.len());
        for (slot, (query, time)) in answers.into_iter().zip(queries) {
            match slot.into_inner().ok().flatten() {
                Some(answer) => out.push(answer?),
                None => {
                    return Err(ApiError::Failed {
                        url: self.base.clone(),
                        what: format!("the query {} at {}", clip_query(query), when(*time)),
                        why: "it was not sent: an earlier query failed".into(),
                        tries: 0,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The label sets of the series `selector` matches between `start` and `end`.
    pub fn series(
        &self,
        selector: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<std::collections::BTreeMap<String, String>>, ApiError> {
        let form = [
            ("match[]", selector.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
        ];
        let what = || {
            format!(
                "the series of {} from {} to {}",
                clip_query(selector),
                when(start),
                when(end)
            )
        };
        let body = self.post("/api/v1/series", &form, &what)?;
        let data = self.data(&body, &what)?;
        serde_json::from_value(data).map_err(|e| ApiError::BadAnswer {
            url: self.base.clone(),
            what: what(),
            why: format!("its data is not a list of label sets ({e})"),
        })
    }

    /// The `data` of a successful answer.
    fn data(&self, body: &[u8], what: &dyn Fn() -> String) -> Result<serde_json::Value, ApiError> {
        let bad = |why: String| ApiError::BadAnswer {
            url: self.base.clone(),
            what: what(),
            why,
        };
        let mut doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("not JSON ({e}): {}", head(body))))?;
        if doc["status"] != "success" {
            return Err(bad(format!("its status is {} ({})", doc["status"], head(body))));
        }
        Ok(doc["data"].take())
    }

    /// POSTs `form` to `path`, with retries; the answer's body, decompressed.
    fn post(&self, path: &str, form: &[(&str, String)], what: &dyn Fn() -> String) -> Result<Vec<u8>, ApiError> {
        let url = format!("{}{path}", self.base);
        let mut tries = 0u32;
        loop {
            tries += 1;
            let failure = match self.attempt(&url, form) {
                Ok((200, body)) => {
                    self.traffic.requests.fetch_add(1, Ordering::Relaxed);
                    return Ok(body);
                }
                Ok((status, body)) => {
                    self.traffic.requests.fetch_add(1, Ordering::Relaxed);
                    let text = error_text(&body);
                    if status == 401 || status == 403 {
                        return Err(ApiError::Unauthorized {
                            url: self.base.clone(),
                            status,
                            text,
                            what: what(),
                        });
                    }
                    let fix = fix_for(status, &text);
                    let error = ApiError::Answer {
                        url: self.base.clone(),
                        status,
                        what: what(),
                        text,
                        fix,
                    };
                    if status < 500 {
                        return Err(error);
                    }
                    Attempt::Retry(error)
                }
                Err(e) => self.classify(e, what, tries),
            };
            match failure {
                Attempt::Retry(error) if tries <= self.retries => {
                    self.traffic.retries.fetch_add(1, Ordering::Relaxed);
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(500u64 << (tries - 1).min(5)));
                }
                Attempt::Retry(error) | Attempt::Fatal(error) => return Err(error),
            }
        }
    }

    /// One request: the status and the decompressed body.
    fn attempt(&self, url: &str, form: &[(&str, String)]) -> Result<(u16, Vec<u8>), ureq::Error> {
        let mut request = self.agent.post(url).header("Accept-Encoding", "gzip");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send_form(form.iter().map(|(k, v)| (*k, v.as_str())))?;
        let status = response.status().as_u16();
        let gzip = response
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let counted = Counted {
            inner: response.into_body().into_reader(),
            bytes: &self.traffic.bytes,
        };
        let mut body = Vec::new();
        if gzip {
            flate2::read::MultiGzDecoder::new(counted).read_to_end(&mut body)?;
        } else {
            let mut counted = counted;
            counted.read_to_end(&mut body)?;
        }
        Ok((status, body))
    }

    fn classify(&self, error: ureq::Error, what: &dyn Fn() -> String, tries: u32) -> Attempt {
        let unreachable = |why: String| {
            Attempt::Fatal(ApiError::Unreachable {
                url: self.base.clone(),
                why,
            })
        };
        let failed = |why: String| {
            Attempt::Retry(ApiError::Failed {
                url: self.base.clone(),
                what: what(),
                why,
                tries,
            })
        };
        match error {
            ureq::Error::HostNotFound => unreachable("the host name is not known".into()),
            ureq::Error::ConnectionFailed => unreachable("the connection failed".into()),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                unreachable("the connection was refused".into())
            }
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                unreachable("the host name is not known".into())
            }
            ureq::Error::Timeout(t) => failed(format!("timed out ({t})")),
            ureq::Error::Io(e) if e.to_string().contains("lookup address") => {
                unreachable("the host name is not known".into())
            }
            ureq::Error::Io(e) if is_tls(&e.to_string()) => Attempt::Fatal(ApiError::Setup {
                url: self.base.clone(),
                why: format!(
                    "TLS failed ({e}); check that the server speaks https (else give http://), and for a private CA pass --prometheus-ca FILE"
                ),
            }),
            ureq::Error::Io(e) => failed(crate::support::io_text(&e)),
            ureq::Error::Tls(why) => Attempt::Fatal(ApiError::Setup {
                url: self.base.clone(),
                why: format!("TLS failed ({why}); for a private CA pass --prometheus-ca FILE"),
            }),
            other => {
                let text = other.to_string();
                if is_tls(&text) {
                    Attempt::Fatal(ApiError::Setup {
                        url: self.base.clone(),
                        why: format!(
                            "TLS failed ({text}); check that the server speaks https (else give http://), and for a private CA pass --prometheus-ca FILE"
                        ),
                    })
                } else {
                    failed(text)
                }
            }
        }
    }

    /// Runs `queries` on up to `concurrency` threads and hands each answer to
    /// `consume` in the queries' order. At most one answer per thread waits
    /// to be consumed, so memory stays bounded. The first error stops it.
    pub fn query_ranges_in_order<E: From<ApiError> + Send>(
        &self,
        queries: &[RangeQuery],
        concurrency: usize,
        mut consume: impl FnMut(usize, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let threads = concurrency.clamp(1, queries.len().max(1));
        std::thread::scope(|scope| {
            let mut answers = Vec::with_capacity(threads);
            for worker in 0..threads {
                let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>, ApiError>>(1);
                answers.push(rx);
                scope.spawn(move || {
                    for query in queries.iter().skip(worker).step_by(threads) {
                        let answer = self.query_range(query);
                        let failed = answer.is_err();
                        if tx.send(answer).is_err() || failed {
                            break;
                        }
                    }
                });
            }
            for (i, query) in queries.iter().enumerate() {
                let answer = answers[i % threads].recv().map_err(|_| {
                    E::from(ApiError::Failed {
                        url: self.base.clone(),
                        what: query.describe(),
                        why: "the download thread stopped".into(),
                        tries: 1,
                    })
                })?;
                consume(i, answer?)?;
            }
            Ok(())
        })
    }
}

/// Whether an error's text is rustls' (a certificate, or a peer that does
/// not speak TLS): retrying will not help.
fn is_tls(text: &str) -> bool {
    [
        "certificate",
        "Certificate",
        "InvalidContentType",
        "corrupt message",
        "HandshakeFailure",
        "tls",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

enum Attempt {
    Retry(ApiError),
    Fatal(ApiError),
}

/// A reader that counts the bytes it passes.
struct Counted<'a, R> {
    inner: R,
    bytes: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `url` as poolcap shows it: without the user and password (a URL it
/// cannot take apart, with any password hidden).
pub fn shown_url(url: &str) -> String {
    parse_url(url).map_or_else(|_| crate::support::redact_urls(url), |u| u.base)
}

/// A server URL taken apart.
struct ServerUrl {
    base: String,
    basic: Option<(String, String)>,
}

fn parse_url(url: &str) -> Result<ServerUrl, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("expected http://host:port or https://host (with an optional path prefix)".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("the scheme {scheme:?} is not http or https"));
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if path.contains(['?', '#']) {
        return Err("give the server's address without a query or fragment".into());
    }
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let basic = match userinfo {
        None => None,
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            Some((percent_decode(user)?, percent_decode(password)?))
        }
    };
    let path = path.trim_end_matches('/');
    Ok(ServerUrl {
        base: format!("{scheme}://{host}{path}"),
        basic,
    })
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a %-escape in the URL's user or password is not two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8 once decoded".to_string())
}

/// The server's error: `errorType: error` of an API error answer, else the
/// body's first bytes.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorAnswer {
        #[serde(rename = "errorType", default)]
        error_type: String,
        #[serde(default)]
        error: String,
    }
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(e) if !e.error.is_empty() => format!("{}: {}", e.error_type, e.error),
        _ => head(body),
    }
}

/// The fix for an error the server often gives.
fn fix_for(status: u16, text: &str) -> String {
    if text.contains("too many samples") || text.contains("max-samples") {
        "; the server's --query.max-samples is lower than one query needs: lower --prometheus-points (points per query), narrow [prometheus] selector, or raise the server's --query.max-samples".into()
    } else if text.contains("exceeded maximum resolution") {
        "; lower --prometheus-points (at most 11000 points a series)".into()
    } else if status == 400 && text.contains("parse error") {
        "; check [prometheus] selector and the metric names in the config".into()
    } else if status == 404 {
        "; check the URL: it should be the server's address (with the path prefix of a Thanos, Mimir or proxied Prometheus), without /api/v1".into()
    } else {
        String::new()
    }
}

/// A body's first bytes as text, for a message.
fn head(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(1000)]);
    let text = text.trim();
    if text.is_empty() {
        "an empty answer".into()
    } else {
        format!("{:?}", crate::ingest::clip(text))
    }
}

/// A query as messages quote it: whole when short.
fn clip_query(query: &str) -> String {
    if query.len() <= 200 {
        format!("`{query}`")
    } else {
        let mut end = 200;
        while !query.is_char_boundary(end) {
            end -= 1;
        }
        format!("`{}…` ({} bytes)", &query[..end], query.len())
    }
}

fn when(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(|_| ts.to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_grid_time_once() {
        for (from, to, step, max) in [
            (0, 3600, 60, 11_000),
            (7, 86_400 * 31, 15, 11_000),
            (-100, 100, 7, 3),
            (1_790_000_000, 1_790_000_000 + 2_678_400, 60, 11_000),
            (10, 11, 60, 5),
        ] {
            let chunks = range_chunks(from, to, step, max);
            let times: Vec<i64> = chunks
                .iter()
                .flat_map(|&(s, e)| (s..=e).step_by(step as usize))
                .collect();
            let expected: Vec<i64> = (from..to).filter(|t| t.rem_euclid(step) == 0).collect();
            assert_eq!(times, expected, "{from} {to} {step} {max}");
            assert!(chunks.iter().all(|&(s, e)| (e - s) / step < max));
        }
        // A month at 15 s: 178 560 points, 17 chunks, the last one short.
        let month = range_chunks(1_790_000_040, 1_790_000_040 + 2_678_400, 15, MAX_POINTS_PER_SERIES);
        assert_eq!(month.len(), 17);
        assert_eq!(month[16].1 - month[16].0, (178_560 - 16 * 11_000 - 1) * 15);
    }

    #[test]
    fn urls_lose_their_credentials_into_a_header() {
        let u = parse_url("http://app:p%40ss:w@prom.local:9090/prometheus/").unwrap();
        assert_eq!(u.base, "http://prom.local:9090/prometheus");
        assert_eq!(u.basic, Some(("app".into(), "p@ss:w".into())));
        assert_eq!(parse_url("HTTPS://mimir").unwrap().base, "https://mimir");
        for bad in ["prom:9090", "ftp://x", "http://", "http://h/?q=1", "http://a:%zz@h"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let options = ClientOptions {
            url: "http://u:secret@127.0.0.1:9".into(),
            token: Some("t".into()),
            token_file: None,
            ca_file: None,
            headers: vec![],
            timeout: Duration::from_secs(1),
            retries: 0,
        };
        let e = Client::new(&options).err().unwrap().to_string();
        assert!(e.contains("keep one") && !e.contains("secret"), "{e}");
        let e = Client::new(&ClientOptions {
            token: None,
            headers: vec!["X-Scope-OrgID clinical".into()],
            ..options.clone()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("Name: value") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn server_errors_are_quoted_with_their_fix() {
        let body = br#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#;
        let text = error_text(body);
        assert_eq!(
            text,
            "execution: query processing would load too many samples into memory in query execution"
        );
        assert!(fix_for(422, &text).contains("--prometheus-points"));
        assert_eq!(error_text(b"<html>bad gateway</html>"), "\"<html>bad gateway</html>\"");
    }
}
