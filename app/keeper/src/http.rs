//! A tiny HTTP/1.1 server on its own thread for `GET /metrics` (Prometheus) and `GET /health`.
//! One connection at a time, `Connection: close`, a 2-second read and write timeout: enough for
//! a scraper and a liveness probe, with no dependency.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The request head is read up to this size; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;

/// Binds `addr` (port 0: any free port) and serves on a background thread; returns the address
/// it listens on. Fails only if it cannot bind.
pub fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health_max_age: Duration,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("keeper-http".into()).spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    if let Err(error) = handle(stream, &metrics, health_max_age) {
                        tracing::debug!(%error, "metrics connection");
                    }
                }
                Err(error) => tracing::warn!(%error, "metrics server: accept failed"),
            }
        }
    })?;
    Ok(local)
}

fn handle(mut stream: TcpStream, metrics: &Metrics, max_age: Duration) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let request_line = text.lines().next().unwrap_or("");
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let response = respond(method, target, metrics, max_age, Instant::now());
    stream.write_all(&response.to_bytes(method == "HEAD"))?;
    stream.flush()
}

/// One response, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }

    fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            404 => "Not Found",
            405 => "Method Not Allowed",
            503 => "Service Unavailable",
            _ => "Bad Request",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// Routing: `GET`/`HEAD` of `/metrics` and `/health` (a query string is ignored).
pub fn respond(
    method: &str,
    target: &str,
    metrics: &Metrics,
    max_age: Duration,
    now: Instant,
) -> Response {
    let path = target.split('?').next().unwrap_or("");
    if method.is_empty() || !target.starts_with('/') {
        return Response::text(400, "bad request\n");
    }
    if !matches!(path, "/metrics" | "/health") {
        return Response::text(404, "not found: try /metrics or /health\n");
    }
    if method != "GET" && method != "HEAD" {
        return Response::text(405, "only GET and HEAD\n");
    }
    if path == "/metrics" {
        return Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics.render(now),
        };
    }
    let (status, body) = metrics.health(now, max_age);
    Response::text(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_metrics_and_health_over_tcp() {
        let metrics = Arc::new(Metrics::new());
        let addr = serve("127.0.0.1:0".parse().unwrap(), metrics.clone(), Duration::from_secs(30))
            .unwrap();
        assert_ne!(addr.port(), 0);

        let health = get(addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(health.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{health}");
        assert!(health.ends_with("\r\n\r\nstarting: no successful snapshot of the chain yet\n"));

        metrics.snapshot_taken(Instant::now());
        metrics.tx_landed("liquidate");
        let health = get(addr, "GET /health HTTP/1.1\r\n\r\n");
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");

        let scrape = get(addr, "GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n");
        let (head, body) = scrape.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head}");
        assert!(body.contains("keeper_transactions_landed_total{kind=\"liquidate\"} 1\n"));

        let missing = get(addr, "GET /nope HTTP/1.1\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let post = get(addr, "POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let head = get(addr, "HEAD /health HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"), "{head}");
        // Garbage, and a client that closes without a word, do not stop the server.
        assert!(get(addr, "\r\n\r\n").starts_with("HTTP/1.1 400"));
        drop(TcpStream::connect(addr).unwrap());
        assert!(get(addr, "GET /health?probe=1 HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200"));
        // The port is taken: a second server on it is an error, not a panic.
        assert!(serve(addr, metrics, Duration::from_secs(1)).is_err());
    }
}
