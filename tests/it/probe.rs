//! `minewatch probe` against servers the test starts on 127.0.0.1: a small pool of each line
//! dialect (python3, plain and over TLS with a certificate the test makes with openssl), the
//! Stratum V2 reference crates' pool (testkit's `sv2pair` example), and three servers that are
//! not pools: an HTTP server, a silent one (the time limit ends the probe), and a hostile one
//! sending one endless line (the bounded reader ends it). Needs python3 (and openssl for TLS);
//! without them the test says SKIPPED.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::bin;

const SERVER_PY: &str = r#"
import json, socket, ssl, sys, time
kind = sys.argv[1]
cert = sys.argv[2] if len(sys.argv) > 2 else None
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(8)
ctx = None
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, sys.argv[3])
print("port", srv.getsockname()[1], flush=True)

def serve(conn):
    def send(o): conn.sendall((json.dumps(o) + "\n").encode())
    if kind == "silent":
        time.sleep(60); return
    if kind == "endless":
        chunk = b"a" * 65536
        while True:
            conn.sendall(chunk)
    f = conn.makefile("rb")
    for line in f:
        if kind == "http":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"); return
        try:
            m = json.loads(line)
        except ValueError:
            return
        mid, meth = m.get("id"), m.get("method")
        if kind == "stratum1":
            if meth == "mining.subscribe":
                send({"id": mid, "result": [[["mining.set_difficulty", "d1"], ["mining.notify", "n1"]], "08000002", 4], "error": None})
            elif meth == "mining.authorize":
                send({"id": mid, "result": True, "error": None})
                send({"id": None, "method": "mining.set_difficulty", "params": [8192]})
                send({"id": None, "method": "mining.notify", "params": ["4d2", "00" * 32, "01", "ff", [], "20000000", "1d00ffff", "5f5e1000", True]})
            else:
                send({"id": mid, "result": None, "error": [20, "unknown method", None]})
        elif kind == "cryptonote":
            if meth == "login":
                send({"id": mid, "jsonrpc": "2.0", "error": None, "result": {"id": "s1", "status": "OK",
                      "extensions": ["algo", "nicehash", "keepalive"],
                      "job": {"blob": "0707", "job_id": "j1", "target": "b88d0600", "algo": "rx/0", "height": 3100000}}})
            else:
                send({"id": mid, "jsonrpc": "2.0", "error": {"code": -1, "message": "Unauthenticated"}})
        elif kind == "ethproxy":
            if meth == "eth_submitLogin":
                send({"id": mid, "jsonrpc": "2.0", "result": True})
            elif meth == "eth_getWork":
                send({"id": mid, "jsonrpc": "2.0", "result": ["0x" + "11" * 32, "0x" + "22" * 32, "0x00000000ffff0000000000000000000000000000000000000000000000000000"]})
            else:
                send({"id": mid, "jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}})
        elif kind == "ethstratum":
            if meth == "mining.hello":
                send({"id": mid, "result": {"proto": "EthereumStratum/2.0.0", "encoding": "plain", "resume": 0, "timeout": 30, "maxerrors": 5, "node": "testpool/2.1"}})
            elif meth == "mining.subscribe":
                send({"id": mid, "result": "s-1"})
            elif meth == "mining.authorize":
                send({"id": mid, "result": "w-1"})
                send({"method": "mining.set", "params": {"epoch": "1c", "target": "00000001ffff", "algo": "ethash", "extranonce": "af4c"}})
                send({"method": "mining.notify", "params": ["1", "2c", "ab" * 32, "00"]})
            else:
                send({"id": mid, "error": {"code": -32601, "message": "Method not found"}})

while True:
    conn, _ = srv.accept()
    try:
        if ctx:
            conn = ctx.wrap_socket(conn, server_side=True)
        conn.settimeout(120)
        serve(conn)
    except Exception:
        pass
    finally:
        try:
            conn.close()
        except Exception:
            pass
"#;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("version").output().is_ok_and(|o| o.status.success())
}

/// A server started by the test, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server that prints `port N` (or `listening ADDR`) once it listens.
fn start(mut cmd: Command) -> Server {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("server's first line");
    let port = line.trim().rsplit([' ', ':']).next().and_then(|p| p.parse().ok());
    Server { port: port.unwrap_or_else(|| panic!("no port in {line:?}")), child }
}

fn python(dir: &Path, kind: &str, tls: Option<&(PathBuf, PathBuf)>) -> Server {
    let script = dir.join("server.py");
    std::fs::write(&script, SERVER_PY).expect("write script");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(kind);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    start(cmd)
}

/// Runs `minewatch probe ... --json`: the report and the exit status, and how long it took.
fn probe(port: u16, extra: &[&str]) -> (Value, Option<i32>, Duration) {
    let t = Instant::now();
    let out = Command::new(bin())
        .args(["probe", &format!("127.0.0.1:{port}"), "--json"])
        .args(extra)
        .output()
        .expect("run minewatch probe");
    let took = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!("not one JSON line ({e}): {text}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (v, out.status.code(), took)
}

fn cert(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((c, k))
}

#[test]
fn probe_names_each_dialect_plain_and_over_tls() {
    if !have("python3") {
        eprintln!("SKIPPED: probe: python3 is missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let expect = [
        ("stratum1", "stratum1"),
        ("cryptonote", "cryptonote"),
        ("ethproxy", "ethproxy"),
        ("ethstratum", "ethstratum"),
    ];
    let tls = cert(dir.path());
    if tls.is_none() {
        eprintln!("SKIPPED: probe over TLS: openssl cannot make a certificate");
    }
    for (kind, dialect) in expect {
        for over_tls in [false, true] {
            if over_tls && tls.is_none() {
                continue;
            }
            let server = python(dir.path(), kind, if over_tls { tls.as_ref() } else { None });
            let flags: &[&str] =
                if over_tls { &["--tls", "--insecure", "--timeout", "20s"] } else { &["--timeout", "20s"] };
            let (r, code, _) = probe(server.port, flags);
            assert_eq!(code, Some(0), "{kind} tls={over_tls}: {r}");
            assert_eq!(r["pool"], true, "{kind}: {r}");
            assert_eq!(r["dialect"], dialect, "{kind}: {r}");
            assert_eq!(r["tls"], over_tls, "{kind}: {r}");
            assert_eq!(r["insecure"], over_tls, "{kind}: {r}");
            match kind {
                "stratum1" => {
                    assert_eq!(r["extranonce"], "08000002", "{r}");
                    assert_eq!(r["extranonce2_size"], 4, "{r}");
                    assert_eq!(r["difficulty"], 8192.0, "{r}");
                    assert_eq!(r["job"], true, "{r}");
                }
                "cryptonote" => {
                    assert_eq!(r["algorithm"], "rx/0", "{r}");
                    assert_eq!(r["share_target"], "b88d0600", "{r}");
                    assert!(r["difficulty"].as_f64().is_some_and(|d| d > 0.0), "{r}");
                    assert_eq!(r["job"], true, "{r}");
                }
                "ethproxy" => {
                    assert_eq!(r["job"], true, "{r}");
                    assert!(r["difficulty"].as_f64().is_some_and(|d| d > 0.0), "{r}");
                }
                _ => {
                    assert_eq!(r["software"], "testpool/2.1", "{r}");
                    assert_eq!(r["algorithm"], "ethash", "{r}");
                    assert_eq!(r["extranonce"], "af4c", "{r}");
                    assert_eq!(r["job"], true, "{r}");
                }
            }
        }
    }
    // Without --insecure the self-signed certificate is refused; with it as the CA, accepted.
    if let Some(t) = &tls {
        let server = python(dir.path(), "stratum1", Some(t));
        let (r, code, _) = probe(server.port, &["--tls", "--timeout", "10s", "--dialect", "stratum1"]);
        assert_eq!((code, &r["pool"]), (Some(1), &Value::Bool(false)), "{r}");
        let ca = t.0.to_str().unwrap_or_default();
        let (r, code, _) = probe(server.port, &["--tls", "--ca", ca, "--timeout", "10s"]);
        // The certificate names localhost, not 127.0.0.1: refused all the same.
        assert_eq!(code, Some(1), "{r}");
    }
}

#[test]
fn probe_speaks_plain_sv2_to_the_reference_pool() {
    let Some(sv2pair) = Path::new(bin()).parent().map(|d| d.join("examples/sv2pair")).filter(|p| p.is_file())
    else {
        eprintln!("SKIPPED: probe sv2: testkit's sv2pair example is not built (cargo build -p testkit --example sv2pair)");
        return;
    };
    let mut cmd = Command::new(sv2pair);
    cmd.args(["pool", "127.0.0.1:0", "--plain"]);
    let server = start(cmd);
    let (r, code, _) = probe(server.port, &["--dialect", "sv2", "--login", "bc1qprobe.w1"]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["dialect"], "sv2", "{r}");
    assert_eq!(r["algorithm"], "sha256d", "{r}");
    assert_eq!(r["difficulty"], 1.0 / 256.0, "{r}");
    assert_eq!(r["job"], true, "{r}");
    // And found by auto after the line dialects.
    let (r, code, _) = probe(server.port, &["--timeout", "10s"]);
    assert_eq!((code, &r["dialect"]), (Some(0), &Value::from("sv2")), "{r}");
}

#[test]
fn probe_says_not_a_pool_to_http_silence_and_an_endless_line() {
    if !have("python3") {
        eprintln!("SKIPPED: probe: python3 is missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let http = python(dir.path(), "http", None);
    let (r, code, _) = probe(http.port, &["--timeout", "10s"]);
    assert_eq!((code, &r["pool"]), (Some(1), &Value::Bool(false)), "{r}");
    assert!(
        r["reason"].as_str().is_some_and(|w| w.contains("not JSON") && w.contains("HTTP/1.1 400")),
        "{r}"
    );

    // A silent server: the whole probe ends at its time limit, every dialect tried.
    let silent = python(dir.path(), "silent", None);
    let (r, code, took) = probe(silent.port, &["--timeout", "2s"]);
    assert_eq!((code, &r["pool"]), (Some(1), &Value::Bool(false)), "{r}");
    assert!(r["reason"].as_str().is_some_and(|w| w.contains("time limit")), "{r}");
    assert!(took < Duration::from_secs(30), "the probe hung: {took:?}");

    // An endless line: the reader gives up at its bound, not at the time limit.
    let endless = python(dir.path(), "endless", None);
    let (r, code, _) = probe(endless.port, &["--timeout", "60s", "--dialect", "stratum1"]);
    assert_eq!((code, &r["pool"]), (Some(1), &Value::Bool(false)), "{r}");
    assert!(r["reason"].as_str().is_some_and(|w| w.contains("longer than")), "{r}");
}

#[test]
fn probe_is_a_subcommand_beside_the_flat_options() {
    // The sensor's options are refused with it, and it needs no -r or -i.
    let out = Command::new(bin()).args(["probe", "127.0.0.1:1", "-r", "x.pcap"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin())
        .args(["probe", "--timeout", "1s", "127.0.0.1:1", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(r["reason"].as_str().is_some_and(|w| w.contains("cannot connect")), "{r}");
    // The man page documents it.
    let man = Command::new(bin()).arg("--generate-man").output().expect("run");
    assert!(String::from_utf8_lossy(&man.stdout).contains("probe"));
}
