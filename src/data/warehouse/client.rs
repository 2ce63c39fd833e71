//! One connection to a warehouse: TLS when the server offers it (rustls, webpki's roots),
//! the bytes it sends counted, and a statement the analyst gives up on cancelled with the
//! protocol's cancel request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::source::WarehouseSource;
use crate::data::LoadProgress;

/// Why a statement did not finish.
#[derive(Debug)]
pub(super) enum Failure {
    /// Said in one line, naming the host and, where the server says, the table or column.
    Said(String),
    /// The analyst cancelled it.
    Cancelled,
}

pub(super) struct Connection {
    client: Client,
    cancel: CancelToken,
    address: (String, u16),
    tls: MakeRustlsConnect,
    /// Bytes the server has sent on this connection.
    received: Arc<AtomicU64>,
}

impl Connection {
    pub(super) async fn open(source: &WarehouseSource) -> Result<Connection, Failure> {
        let tls = tls();
        let address = (source.host.clone(), source.port);
        let received = Arc::new(AtomicU64::new(0));
        let stream = TcpStream::connect(&address).await.map_err(|e| {
            Failure::Said(format!(
                "cannot connect to {}:{}: {e} (is the server running, and is the host and port right?)",
                source.host, source.port
            ))
        })?;
        let stream = Counted {
            inner: stream,
            received: received.clone(),
        };
        let mut make = tls.clone();
        let connector = <MakeRustlsConnect as MakeTlsConnect<Counted>>::make_tls_connect(&mut make, &source.host)
            .map_err(|e| Failure::Said(e.to_string()))?;
        let (client, connection) = source
            .config
            .connect_raw(stream, connector)
            .await
            .map_err(|e| Failure::Said(said(source, &e)))?;
        tokio::spawn(connection);
        Ok(Connection {
            cancel: client.cancel_token(),
            client,
            address,
            tls,
            received,
        })
    }

    /// The columns `sql` returns, with their types, without running it.
    pub(super) async fn prepare(&self, source: &WarehouseSource, sql: &str) -> Result<Statement, Failure> {
        self.client
            .prepare(sql)
            .await
            .map_err(|e| Failure::Said(said(source, &e)))
    }

    /// Runs `sql`, checking every tenth of a second whether the analyst cancelled the load;
    /// if so the server is asked to stop the statement.
    pub(super) async fn query(
        &self,
        source: &WarehouseSource,
        sql: &str,
        progress: Option<&LoadProgress>,
    ) -> Result<Vec<Row>, Failure> {
        let query = self.client.query(sql, &[]);
        tokio::pin!(query);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                rows = &mut query => return rows.map_err(|e| Failure::Said(said(source, &e))),
                _ = tick.tick() => {
                    if progress.is_some_and(LoadProgress::is_cancelled) {
                        self.cancel_running().await;
                        return Err(Failure::Cancelled);
                    }
                }
            }
        }
    }

    /// A session setting the server may not know (`SET` differs between engines): tried,
    /// and an engine that refuses it is left as it is.
    pub(super) async fn try_setting(&self, sql: &str) {
        let _ = self.client.batch_execute(sql).await;
    }

    /// Bytes received from the server so far.
    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The protocol's cancel request, on a connection of its own; the statement then ends
    /// with an error nobody waits for.
    async fn cancel_running(&self) {
        if let Ok(stream) = TcpStream::connect(&self.address).await {
            let mut make = self.tls.clone();
            let Ok(connector) =
                <MakeRustlsConnect as MakeTlsConnect<TcpStream>>::make_tls_connect(&mut make, &self.address.0);
            let _ = self.cancel.cancel_query_raw(stream, connector).await;
        }
    }
}

/// Runs `work` to its end on a runtime of its own on a thread of its own, so a loader
/// called from anywhere (a blocking task of the TUI's runtime included) can wait for it.
pub(super) fn block_on<T: Send>(work: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds")
                    .block_on(work)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// TLS as libpq's default `sslmode=prefer` does it: used when the server offers it, the
/// certificate checked against webpki's roots.
fn tls() -> MakeRustlsConnect {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// A server error in one line: the server's own message (it names the relation or column),
/// with what would fix the common ones.
fn said(source: &WarehouseSource, e: &tokio_postgres::Error) -> String {
    let at = format!("{}:{}", source.host, source.port);
    let Some(db) = e.as_db_error() else {
        let mut text = e.to_string();
        if let Some(cause) = std::error::Error::source(e) {
            text = format!("{text}: {cause}");
        }
        return format!("{at}: {text}");
    };
    let hint = match db.code().code() {
        "28P01" | "28000" => " (check the user and PGPASSWORD or the URL's password)",
        "3D000" => " (check the database name after the host in the URL)",
        "42P01" => " (check ?table=, or name its schema: ?table=SCHEMA.NAME)",
        "42703" => " (map another column with --column ROLE=COLUMN)",
        "42501" => " (the user needs SELECT on it)",
        _ => "",
    };
    format!("{at}: {}{hint}", db.message())
}

/// A stream that counts the bytes read from it.
pub(super) struct Counted {
    inner: TcpStream,
    received: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.received.fetch_add(read as u64, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
