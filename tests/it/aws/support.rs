//! Real components for the AWS tests, started by the tests on loopback: moto server (a real AWS
//! API emulator, Python), a fault-injecting HTTP proxy in front of it, and a minimal HTTP/1.1
//! client for the SQS JSON API (the tests read the alert queue without compiling another SDK
//! crate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a tool is: an environment variable, the repository's `.venv`, then `PATH`. `None` after
/// printing SKIP on a developer machine; a panic under `CI=true`, where absence is a failure.
pub fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env_var)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin").join(name);
            venv.is_file().then_some(venv)
        })
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        let msg = format!(
            "{name} not found (set {env_var}, or `python3 -m venv .venv && .venv/bin/pip install 'moto[server]' cargo-lambda cfn-lint`)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true and {msg}");
        }
        eprintln!("SKIP: {msg}");
    }
    found
}

/// A function binary built by `cargo build -p <name>`: `env_var`, else `target/debug/<name>`.
/// `None` after printing SKIP on a developer machine; a panic under `CI=true`.
pub fn built_function(env_var: &str, name: &str) -> Option<PathBuf> {
    let bin = std::env::var_os(env_var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/debug")
            .join(name)
    });
    if bin.is_file() {
        return Some(bin);
    }
    let msg = format!(
        "{} not built (cargo build -p {name}, or set {env_var})",
        bin.display()
    );
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "CI=true and {msg}"
    );
    eprintln!("SKIP: {msg}");
    None
}

/// A child process killed (and reaped) when the test ends, even on panic.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A function binary served by `cargo lambda watch --only-lambda-apis` (the Lambda Runtime API
/// and the Invoke API on `port`, function name `_`); both stop when this is dropped.
pub struct RunningFunction {
    /// The Invoke API's port.
    pub port: u16,
    _watch: KillOnDrop,
    _function: KillOnDrop,
}

/// Start `bin` against the Lambda Runtime API that `cargo lambda watch --only-lambda-apis`
/// serves. `env` adds to the function's environment (AWS region and moto's dummy credentials
/// are set).
pub fn start_function(cargo_lambda: &Path, bin: &Path, env: &[(&str, &str)]) -> RunningFunction {
    let port = free_port();
    let started = Instant::now();
    let watch = KillOnDrop(
        Command::new(cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "cargo lambda watch did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut function = Command::new(bin);
    function
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        function.env(k, v);
    }
    RunningFunction {
        port,
        _watch: watch,
        _function: KillOnDrop(function.spawn().unwrap()),
    }
}

/// Run the function binary `bin` ([`start_function`]), invoke it once with the event in
/// `event` (`cargo lambda invoke`) and return its response as JSON. Everything started is
/// stopped on return, or on panic.
pub fn invoke_function(
    cargo_lambda: &Path,
    bin: &Path,
    env: &[(&str, &str)],
    event: &Path,
) -> serde_json::Value {
    let started = Instant::now();
    let running = start_function(cargo_lambda, bin, env);
    let mut invoke = KillOnDrop(
        Command::new(cargo_lambda)
            .args([
                "lambda",
                "invoke",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(running.port.to_string())
            .arg("--data-file")
            .arg(event)
            .arg("_")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // A function that dies leaves `invoke` waiting for ever: bound it.
    while invoke.0.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "cargo lambda invoke did not answer"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = std::mem::replace(&mut invoke.0, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    eprintln!("cargo lambda watch + invoke: {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "invoke failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A free loopback port (bound then released; good enough for a test that starts at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: SocketAddr,
}

impl Moto {
    /// Start moto, or `None` (SKIP) when it is not installed.
    pub fn start() -> Option<Moto> {
        Moto::start_with_env(&[])
    }

    /// [`Moto::start`] with `env` added to moto's environment (`MOTO_PORT`: where moto's Step
    /// Functions interpreter sends its own AWS calls).
    pub fn start_with_env(env: &[(&str, &str)]) -> Option<Moto> {
        let bin = find_tool("LANEGUARD_MOTO_SERVER", "moto_server")?;
        let port = free_port();
        let started = Instant::now();
        let child = Command::new(&bin)
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let moto = Moto {
            child,
            url: format!("http://{addr}"),
            addr,
        };
        loop {
            if let Ok((200, _)) = http(addr, "GET", "/moto-api/", &[], b"") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("moto ready on {addr} in {:?}", started.elapsed());
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let (status, head, body) =
        split_response(&raw).ok_or_else(|| std::io::Error::other("bad HTTP response"))?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn split_response(raw: &[u8]) -> Option<(u16, String, &[u8])> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head, &raw[end + 4..]))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 4 + size..];
    }
    out
}

/// A call in one of AWS's JSON protocols (`X-Amz-Target: <target>.<action>`, JSON `version`)
/// to moto, unsigned: moto routes it by the service (`scope`) in the credential scope. Panics
/// unless the answer is 200; returns the answer's JSON. The tests call SQS, KMS and Step
/// Functions this way without compiling their SDK crates.
pub fn json_call(
    moto: &Moto,
    target: &str,
    version: &str,
    scope: &str,
    action: &str,
    input: &serde_json::Value,
) -> serde_json::Value {
    let (status, body) = http(
        moto.addr,
        "POST",
        "/",
        &[
            ("Content-Type", &format!("application/x-amz-json-{version}")),
            ("X-Amz-Target", &format!("{target}.{action}")),
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/{scope}/aws4_request, SignedHeaders=host, Signature=0"),
            ),
        ],
        input.to_string().as_bytes(),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{scope} {action}: {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// An SQS call in the JSON protocol.
pub fn sqs(moto: &Moto, action: &str, input: &serde_json::Value) -> serde_json::Value {
    json_call(moto, "AmazonSQS", "1.0", "sqs", action, input)
}

/// Create a queue; returns (url, arn).
pub fn create_queue(moto: &Moto, name: &str) -> (String, String) {
    let mut input = serde_json::json!({ "QueueName": name });
    if name.ends_with(".fifo") {
        input["Attributes"] = serde_json::json!({ "FifoQueue": "true" });
    }
    let url = sqs(moto, "CreateQueue", &input)["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let attrs = sqs(
        moto,
        "GetQueueAttributes",
        &serde_json::json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] }),
    );
    let arn = attrs["Attributes"]["QueueArn"].as_str().unwrap().to_owned();
    (url, arn)
}

/// Every message now in the queue (received and deleted), SNS envelopes parsed.
pub fn drain_queue(moto: &Moto, url: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    loop {
        let r = sqs(
            moto,
            "ReceiveMessage",
            &serde_json::json!({ "QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60, "MessageAttributeNames": ["All"], "AttributeNames": ["All"] }),
        );
        let msgs = r["Messages"].as_array().cloned().unwrap_or_default();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            sqs(
                moto,
                "DeleteMessage",
                &serde_json::json!({ "QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"] }),
            );
            let body: serde_json::Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            out.push(body);
        }
    }
}

/// How the proxy answers a request it intercepts.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// `PublishBatch` answered HTTP 200 with these entry ids in `Failed` (code, sender fault):
    /// they are taken out of the request before it is forwarded, so SNS never publishes them;
    /// the other entries are published by moto.
    FailEntries {
        /// Batch entry ids (`Id`) to fail.
        ids: &'static [&'static str],
        /// The error code in `Failed`.
        code: &'static str,
        /// `SenderFault`.
        sender_fault: bool,
    },
    /// `PutLogEvents` answered HTTP 200 with `rejectedLogEventsInfo` (the API's semantics:
    /// too-old end exclusive, expired end exclusive, too-new start inclusive): the events it
    /// names are taken out of the request before it is forwarded, so moto stores only the others.
    RejectLogEvents {
        /// `tooOldLogEventEndIndex`.
        too_old_end: Option<i32>,
        /// `expiredLogEventEndIndex`.
        expired_end: Option<i32>,
        /// `tooNewLogEventStartIndex`.
        too_new_start: Option<i32>,
    },
    /// 400 with the protocol's throttling error code.
    Throttle,
    /// 429 with a throttling error code.
    TooMany,
    /// 500 internal error.
    Internal,
    /// 503 service unavailable.
    Unavailable,
    /// Not a fault: sent to another server, the Lambda Invoke API of `cargo lambda watch`
    /// (`Invoke` requests, the function name in the path replaced by its `_`).
    RouteInvoke(SocketAddr),
    /// Not a fault: forwarded after this many milliseconds (a slow network), so that requests
    /// a client runs at once overlap and [`FaultProxy::max_in_flight`] counts them.
    SlowMs(u64),
}

/// A rule: from the `from_call`-th on, requests for `operation` (query `Action=` or JSON
/// `X-Amz-Target` suffix) get the faults in order, then are proxied; while `always` is set they
/// all get the last fault.
pub struct FaultRule {
    pub operation: &'static str,
    pub faults: Vec<Fault>,
    /// Fail every matching request with the last fault while set.
    pub always: Arc<AtomicBool>,
    /// Only the n-th (0-based) and later matching requests are eligible.
    pub from_call: usize,
}

/// A fault-injecting HTTP proxy in front of moto, on its own loopback port.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Arc<AtomicBool>,
    /// Calls seen per operation (including faulted ones).
    pub calls: Arc<Mutex<Vec<(String, bool)>>>,
    /// Requests being answered now, and the most there ever were.
    in_flight: Arc<[AtomicUsize; 2]>,
}

impl FaultRule {
    /// Requests for `operation` get `faults` in order, from the first one on, then are proxied.
    pub fn once(operation: &'static str, faults: Vec<Fault>) -> FaultRule {
        FaultRule {
            operation,
            faults,
            always: Arc::default(),
            from_call: 0,
        }
    }
}

impl FaultProxy {
    /// Start a proxy to `upstream` applying `rules`.
    pub fn start(upstream: SocketAddr, rules: Vec<FaultRule>) -> FaultProxy {
        FaultProxy::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), upstream, rules)
    }

    /// [`FaultProxy::start`] on a listener bound already (its port handed to moto before moto
    /// was started).
    pub fn start_on(listener: TcpListener, upstream: SocketAddr, rules: Vec<FaultRule>) -> FaultProxy {
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let calls: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let in_flight: Arc<[AtomicUsize; 2]> = Arc::default();
        let rules = Arc::new(rules);
        let counters: Arc<Vec<AtomicUsize>> = Arc::new(rules.iter().map(|_| AtomicUsize::new(0)).collect());
        {
            let stop = Arc::clone(&stop);
            let calls = Arc::clone(&calls);
            let in_flight = Arc::clone(&in_flight);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (rules, counters, calls, in_flight) = (
                                Arc::clone(&rules),
                                Arc::clone(&counters),
                                Arc::clone(&calls),
                                Arc::clone(&in_flight),
                            );
                            std::thread::spawn(move || {
                                let _ = serve(conn, upstream, &rules, &counters, &calls, &in_flight);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        FaultProxy {
            url,
            stop,
            calls,
            in_flight,
        }
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight[1].load(Ordering::SeqCst)
    }

    /// (total, faulted) calls of `operation`.
    pub fn count(&self, operation: &str) -> (usize, usize) {
        let calls = self.calls.lock().unwrap();
        let all: Vec<_> = calls
            .iter()
            .filter(|(op, _)| op.eq_ignore_ascii_case(operation))
            .collect();
        (all.len(), all.iter().filter(|(_, f)| *f).count())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Serve requests on one client connection (keep-alive), one upstream connection per request.
fn serve(
    conn: TcpStream,
    upstream: SocketAddr,
    rules: &[FaultRule],
    counters: &[AtomicUsize],
    calls: &Mutex<Vec<(String, bool)>>,
    in_flight: &[AtomicUsize; 2],
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut client = conn;
    loop {
        // Request head.
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let end = line == "\r\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        let lower = head.to_ascii_lowercase();
        let len = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let body_text = String::from_utf8_lossy(&body);
        let operation = lower
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-target:"))
            .and_then(|t| t.trim().rsplit('.').next().map(str::to_owned))
            .or_else(|| {
                body_text
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("Action="))
                    .map(str::to_owned)
            })
            .or_else(|| {
                // Lambda's REST API: `POST /2015-03-31/functions/<name>/invocations`.
                let path = head.split(' ').nth(1).unwrap_or("");
                (path.contains("/functions/") && path.ends_with("/invocations")).then(|| "Invoke".to_owned())
            })
            .unwrap_or_default();
        let json = lower.contains("x-amz-json");
        let mut fault = None;
        for (i, r) in rules.iter().enumerate() {
            if r.operation.eq_ignore_ascii_case(&operation) {
                let n = counters[i].fetch_add(1, Ordering::SeqCst);
                if n < r.from_call {
                    continue;
                }
                if r.always.load(Ordering::SeqCst) {
                    fault = r.faults.last().copied();
                } else {
                    fault = r.faults.get(n - r.from_call).copied();
                }
            }
        }
        calls.lock().unwrap().push((operation.clone(), fault.is_some()));
        let now = in_flight[0].fetch_add(1, Ordering::SeqCst) + 1;
        in_flight[1].fetch_max(now, Ordering::SeqCst);
        let response = match fault {
            Some(Fault::FailEntries {
                ids,
                code,
                sender_fault,
            }) => fail_entries(upstream, &head, &body, ids, code, sender_fault)?,
            Some(Fault::RejectLogEvents {
                too_old_end,
                expired_end,
                too_new_start,
            }) => reject_log_events(upstream, &head, &body, [too_old_end, expired_end, too_new_start])?,
            Some(Fault::RouteInvoke(to)) => {
                let (method, rest) = head.split_once(' ').unwrap_or(("POST", ""));
                let rest = rest.split_once(' ').map_or("", |(_, r)| r);
                let head = format!("{method} /2015-03-31/functions/_/invocations {rest}");
                let (head, body) = forward(to, &head, &body)?;
                frame(&head, &body)
            }
            Some(Fault::SlowMs(ms)) => {
                std::thread::sleep(Duration::from_millis(ms));
                let (head, body) = forward(upstream, &head, &body)?;
                frame(&head, &body)
            }
            Some(f) => fault_response(f, json),
            None => {
                let (head, body) = forward(upstream, &head, &body)?;
                frame(&head, &body)
            }
        };
        in_flight[0].fetch_sub(1, Ordering::SeqCst);
        client.write_all(&response)?;
        client.flush()?;
    }
}

fn fault_response(f: Fault, json: bool) -> Vec<u8> {
    let (status, reason, code) = match f {
        Fault::Throttle => (
            400,
            "Bad Request",
            if json { "ThrottlingException" } else { "Throttling" },
        ),
        Fault::TooMany => (
            429,
            "Too Many Requests",
            if json { "ThrottlingException" } else { "Throttling" },
        ),
        Fault::Internal => (500, "Internal Server Error", "InternalFailure"),
        Fault::Unavailable => (503, "Service Unavailable", "ServiceUnavailable"),
        Fault::FailEntries { .. }
        | Fault::RejectLogEvents { .. }
        | Fault::RouteInvoke(_)
        | Fault::SlowMs(_) => {
            unreachable!("forwarded")
        }
    };
    let (ctype, body) = if json {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"injected by the laneguard test proxy"}}"#),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the laneguard test proxy</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
            ),
        )
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nx-amzn-ErrorType: {code}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `PublishBatch` without the entries whose `Id` is in `ids` (the others renumbered), forwarded;
/// moto's answer with those ids added to `Failed`.
fn fail_entries(
    upstream: SocketAddr,
    head: &str,
    body: &[u8],
    ids: &[&str],
    code: &str,
    sender_fault: bool,
) -> std::io::Result<Vec<u8>> {
    const MEMBER: &str = "PublishBatchRequestEntries.member.";
    let text = String::from_utf8_lossy(body).into_owned();
    let pairs: Vec<(&str, &str)> = text
        .split('&')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    fn member_of(k: &str) -> Option<(&str, &str)> {
        k.strip_prefix(MEMBER).and_then(|rest| rest.split_once('.'))
    }
    let failed: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(k, v)| match member_of(k) {
            Some((n, "Id")) if ids.contains(v) => Some((n.to_owned(), (*v).to_owned())),
            _ => None,
        })
        .collect();
    let mut numbers: Vec<String> = Vec::new();
    let mut kept = Vec::new();
    for (k, v) in &pairs {
        match member_of(k) {
            Some((n, _)) if failed.iter().any(|(m, _)| m == n) => {}
            Some((n, tail)) => {
                let m = match numbers.iter().position(|x| x == n) {
                    Some(p) => p + 1,
                    None => {
                        numbers.push(n.to_owned());
                        numbers.len()
                    }
                };
                kept.push(format!("{MEMBER}{m}.{tail}={v}"));
            }
            None => kept.push(format!("{k}={v}")),
        }
    }
    let (resp_head, resp_body) = forward(upstream, head, kept.join("&").as_bytes())?;
    let members: String = failed
        .iter()
        .map(|(_, id)| {
            format!(
                "<member><Id>{id}</Id><Code>{code}</Code><Message>injected by the laneguard test proxy</Message><SenderFault>{sender_fault}</SenderFault></member>"
            )
        })
        .collect();
    let xml = String::from_utf8_lossy(&resp_body).into_owned();
    let xml = if xml.contains("<Failed/>") {
        xml.replacen("<Failed/>", &format!("<Failed>{members}</Failed>"), 1)
    } else if xml.contains("<Failed>") {
        xml.replacen("<Failed>", &format!("<Failed>{members}"), 1)
    } else {
        xml.replacen(
            "</PublishBatchResult>",
            &format!("<Failed>{members}</Failed></PublishBatchResult>"),
            1,
        )
    };
    Ok(frame(&resp_head, xml.as_bytes()))
}

/// `PutLogEvents` without the events `rejectedLogEventsInfo` names, forwarded; moto's answer
/// with that info.
fn reject_log_events(
    upstream: SocketAddr,
    head: &str,
    body: &[u8],
    [too_old_end, expired_end, too_new_start]: [Option<i32>; 3],
) -> std::io::Result<Vec<u8>> {
    let mut request: serde_json::Value = serde_json::from_slice(body).map_err(std::io::Error::other)?;
    let events = request["logEvents"].as_array().cloned().unwrap_or_default();
    let rejected =
        laneguard_aws::siem::rejected_indices(too_old_end, expired_end, too_new_start, events.len());
    request["logEvents"] = events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(i))
        .map(|(_, e)| e)
        .collect();
    let (resp_head, resp_body) = forward(upstream, head, request.to_string().as_bytes())?;
    let mut response: serde_json::Value =
        serde_json::from_slice(&resp_body).unwrap_or_else(|_| serde_json::json!({}));
    let mut info = serde_json::Map::new();
    for (name, value) in [
        ("tooOldLogEventEndIndex", too_old_end),
        ("expiredLogEventEndIndex", expired_end),
        ("tooNewLogEventStartIndex", too_new_start),
    ] {
        if let Some(v) = value {
            info.insert(name.to_owned(), v.into());
        }
    }
    response["rejectedLogEventsInfo"] = info.into();
    Ok(frame(&resp_head, response.to_string().as_bytes()))
}

/// A response head (status line and headers, without framing ones) and body as bytes, framed
/// with a Content-Length.
fn frame(head: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Send the request (with `body`, whatever length the head said) to moto; its response head
/// without framing headers, and its body de-chunked.
fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<(String, Vec<u8>)> {
    let mut s = TcpStream::connect(upstream)?;
    let mut out_head = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let l = line.to_ascii_lowercase();
        if l.starts_with("connection:") || l.starts_with("content-length:") {
            continue;
        }
        out_head.push_str(line);
        out_head.push_str("\r\n");
    }
    out_head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(out_head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let (_, resp_head, resp_body) =
        split_response(&raw).ok_or_else(|| std::io::Error::other("bad upstream response"))?;
    let resp_body = if resp_head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(resp_body)
    } else {
        resp_body.to_vec()
    };
    let mut out = String::new();
    for line in resp_head.split("\r\n") {
        let l = line.to_ascii_lowercase();
        if l.starts_with("connection:")
            || l.starts_with("content-length:")
            || l.starts_with("transfer-encoding:")
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    Ok((out, resp_body))
}

/// The built `laneguard` binary pointed at `moto` (endpoint, region, test credentials), run in
/// the repository root.
pub fn laneguard_on(moto: &Moto) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_laneguard"));
    c.env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}
