//! A small HTTP/1.1 server on 127.0.0.1 for tests of the LLM and Mem0 backends: it records
//! every request and answers as the test's responder says (JSON, a streamed SSE body,
//! garbage, or a hang that notices when the client hangs up).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body))
    }
}

pub enum Reply {
    /// Status, extra headers, and a body sent as `application/json`.
    Json(u16, Vec<(&'static str, String)>, String),
    /// `text/event-stream` with these events' data, each sent as its own write.
    Sse(Vec<String>),
    /// Status, content type and body, as given.
    Raw(u16, &'static str, String),
    /// Read nothing more and answer nothing for this long (or until the client hangs up).
    Hang(Duration),
}

type Responder = dyn Fn(usize, &Request) -> Reply + Send + Sync;

pub struct Server {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    /// The context window `GET /props` states, as llama.cpp's server does; none: 404, as
    /// most servers answer. Such probes are not requests the responder sees.
    window: Arc<Mutex<Option<usize>>>,
    /// Set when a client closed a connection the server was hanging on.
    pub hung_up: Arc<AtomicBool>,
}

impl Server {
    /// Starts serving in background threads; `respond` gets the request's index (from 0).
    pub fn start(respond: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let window = Arc::new(Mutex::new(None));
        let hung_up = Arc::new(AtomicBool::new(false));
        let respond: Arc<Responder> = Arc::new(respond);
        let count = Arc::new(AtomicUsize::new(0));
        {
            let (requests, hung_up, window) = (requests.clone(), hung_up.clone(), window.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (requests, hung_up, respond, count, window) = (
                        requests.clone(),
                        hung_up.clone(),
                        respond.clone(),
                        count.clone(),
                        window.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(stream, &requests, &hung_up, &*respond, &count, &window);
                    });
                }
            });
        }
        Server {
            port,
            requests,
            window,
            hung_up,
        }
    }

    /// Makes `GET /props` state a context window of `tokens`, as llama.cpp's server does.
    pub fn with_window(self, tokens: usize) -> Server {
        *self.window.lock().unwrap() = Some(tokens);
        self
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    hung_up: &AtomicBool,
    respond: &Responder,
    count: &AtomicUsize,
    window: &Mutex<Option<usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut out = stream;
    // A client asking the model's context window (llama.cpp's /props, /v1/models).
    if request.method == "GET" && (request.path == "/props" || request.path == "/v1/models") {
        let reply = match (*window.lock().unwrap(), request.path.as_str()) {
            (Some(n), "/props") => {
                let body = format!(r#"{{"default_generation_settings":{{"n_ctx":{n}}}}}"#);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
            _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
        };
        out.write_all(reply.as_bytes())?;
        return out.flush();
    }
    let index = count.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(request.clone());
    match respond(index, &request) {
        Reply::Json(status, extra, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (n, v) in extra {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            out.write_all(format!("{head}\r\n{body}").as_bytes())?;
        }
        Reply::Raw(status, content_type, body) => {
            out.write_all(
                format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )?;
        }
        Reply::Sse(events) => {
            out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")?;
            for data in events {
                out.write_all(format!("data: {data}\n\n").as_bytes())?;
                out.flush()?;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Reply::Hang(limit) => {
            // Poll the socket: a read of 0 bytes means the client closed it.
            out.set_read_timeout(Some(Duration::from_millis(50)))?;
            let started = std::time::Instant::now();
            let mut buf = [0u8; 64];
            while started.elapsed() < limit {
                match reader.read(&mut buf) {
                    Ok(0) => {
                        hung_up.store(true, Ordering::SeqCst);
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => {
                        hung_up.store(true, Ordering::SeqCst);
                        return Ok(());
                    }
                }
            }
        }
    }
    out.flush()
}

/// A chat completion as OpenAI answers without streaming.
pub fn completion(text: &str, prompt_tokens: usize, completion_tokens: usize) -> String {
    serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    })
    .to_string()
}

/// The same answer as OpenAI streams it: a chunk per piece, a usage chunk, `[DONE]`.
pub fn streamed(pieces: &[&str], prompt_tokens: usize, completion_tokens: usize) -> Vec<String> {
    let mut events: Vec<String> = pieces
        .iter()
        .map(|p| {
            serde_json::json!({"object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
            .to_string()
        })
        .collect();
    events.push(
        serde_json::json!({"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        .to_string(),
    );
    events.push(
        serde_json::json!({"object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})
        .to_string(),
    );
    events.push("[DONE]".into());
    events
}

/// An answer as Anthropic's Messages API streams it: `message_start` with the input side of
/// the usage, a text delta per piece, `message_delta` with the output tokens,
/// `message_stop`.
pub fn messages_streamed(
    pieces: &[&str],
    input: usize,
    cache_write: usize,
    cache_read: usize,
    output: usize,
) -> Vec<String> {
    let mut events = vec![
        serde_json::json!({"type": "message_start", "message": {"id": "msg_test", "type": "message",
            "role": "assistant", "content": [], "model": "claude-test", "stop_reason": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": cache_write,
                      "cache_read_input_tokens": cache_read, "output_tokens": 1}}})
        .to_string(),
        serde_json::json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            .to_string(),
        serde_json::json!({"type": "ping"}).to_string(),
    ];
    events.extend(pieces.iter().map(|p| {
        serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
            .to_string()
    }));
    events.push(serde_json::json!({"type": "content_block_stop", "index": 0}).to_string());
    events.push(
        serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": output}})
        .to_string(),
    );
    events.push(serde_json::json!({"type": "message_stop"}).to_string());
    events
}
