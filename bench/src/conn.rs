//! One HTTP/1.1 keep-alive connection: a bare hyper client connection over a TCP stream.
//!
//! No pool, no retries, no redirects: each worker owns one connection and sends one request at
//! a time on it, so `--concurrency` is exactly the number of requests in flight.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Fallible;

/// A loopback connect answers at once; a server whose accept queue is full must not stall the
/// bench for the kernel's SYN retries.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> Fallible<Self> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))??;
        // Requests are small and written whole; don't let Nagle hold them back.
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the worker drops its sender or the server closes it;
            // the worker sees the latter as an error on its next request.
            let _closed = connection.await;
        });
        Ok(Self { sender })
    }

    /// Sends `request` and reads the whole response body.
    pub(crate) async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), hyper::Error> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}
