//! The HTTP listener: each connection served by hyper (HTTP/1.1, kept alive between requests)
//! and watched, so that no client holds the daemon by doing nothing. A connection that has not
//! sent a request's headers within `[server] header_timeout_s` of starting them (or of
//! connecting), or stops sending a request's body for as long, is closed; one idle between
//! requests for `idle_timeout_s` is closed, and so is one that takes none of its answer for as
//! long (it stopped reading); at most `max_connections` are served at once, and past that new
//! ones wait in the system's listen queue until one ends. The making of an answer is not timed:
//! a handler may take as long as its work does.
//!
//! Stopping: no new connections; each one ends after the request it is answering (an idle one
//! at once), still watched; the listener returns when all have.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// How long a client may take, and how many may be served at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From a request's first byte (or the connection's start) to the end of its headers;
    /// also the longest pause within a request's body.
    pub header: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body: Duration,
    /// Between the end of an answer and the next request's first byte.
    pub idle: Duration,
    /// Connections served at once.
    pub max: usize,
}

impl Limits {
    /// The limits `[server]` sets.
    pub(crate) fn of(server: &super::config::Server) -> Limits {
        Limits {
            header: Duration::from_secs(server.header_timeout_s),
            body: Duration::from_secs(server.body_timeout_s),
            idle: Duration::from_secs(server.idle_timeout_s),
            max: server.max_connections,
        }
    }
}

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its request's headers are coming (or nothing yet on a new connection).
    Head,
    /// A request is being answered.
    Busy,
    /// Between requests.
    Idle,
}

#[derive(Debug, Clone, Copy)]
struct State {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// When the last byte came.
    last_read: Instant,
    /// Whether the request being answered is still sending its body.
    body_open: bool,
    /// When the client last took bytes written to it.
    last_write: Instant,
    /// Since when the client has taken none of the bytes written to it (it stopped reading).
    write_blocked: Option<Instant>,
}

/// What a connection's watchdog reads: its phase and when it began, told of each change.
struct Watch {
    state: Mutex<State>,
    changed: Notify,
}

impl Watch {
    fn new() -> Watch {
        let now = Instant::now();
        Watch {
            state: Mutex::new(State {
                phase: Phase::Head,
                since: now,
                last_read: now,
                body_open: false,
                last_write: now,
                write_blocked: None,
            }),
            changed: Notify::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    /// Bytes came: an idle connection starts its next request's headers.
    fn read(&self) {
        let now = Instant::now();
        let woke = self.with(|s| {
            s.last_read = now;
            let idle = s.phase == Phase::Idle;
            if idle {
                s.phase = Phase::Head;
                s.since = now;
            }
            idle
        });
        if woke {
            self.changed.notify_one();
        }
    }

    /// The headers are in: the request is being answered (its body may still be coming).
    fn busy(&self, body_open: bool) {
        let now = Instant::now();
        self.with(|s| {
            s.phase = Phase::Busy;
            s.since = now;
            s.last_read = now;
            s.body_open = body_open;
        });
        self.changed.notify_one();
    }

    /// A write was taken by the socket (`true`) or had to wait (`false`).
    fn wrote(&self, taken: bool) {
        let blocked = self.with(|s| match (taken, s.write_blocked) {
            (true, _) => {
                s.last_write = Instant::now();
                s.write_blocked = None;
                false
            }
            (false, None) => {
                s.write_blocked = Some(Instant::now());
                true
            }
            (false, Some(_)) => false,
        });
        if blocked {
            self.changed.notify_one();
        }
    }

    /// The request's body is all in (or no longer read).
    fn body_done(&self) {
        if self.with(|s| std::mem::replace(&mut s.body_open, false)) {
            self.changed.notify_one();
        }
    }

    /// The answer is written: the connection waits for the next request.
    fn answered(&self) {
        let now = Instant::now();
        self.with(|s| {
            s.phase = Phase::Idle;
            s.since = now;
            s.body_open = false;
        });
        self.changed.notify_one();
    }

    /// When the connection must be closed if nothing changes, and why.
    fn deadline(&self, limits: Limits) -> Option<(Instant, &'static str)> {
        self.with(|s| match s.phase {
            Phase::Head => Some((s.since + limits.header, "its headers did not come in time")),
            // An answer still going out (hyper holds the rest of it) is not idleness.
            Phase::Idle => Some((s.since.max(s.last_write) + limits.idle, "it was idle")),
            // A pause, or the whole body taking too long (a byte now and then buys nothing).
            Phase::Busy if s.body_open => {
                let (paused, whole) = (s.last_read + limits.header, s.since + limits.body);
                Some(if paused <= whole {
                    (paused, "its body stopped coming")
                } else {
                    (whole, "its body took too long")
                })
            }
            Phase::Busy => s
                .write_blocked
                .map(|since| (since + limits.idle, "it stopped reading its answer")),
        })
    }

    /// Returns when the connection has overstayed, why.
    async fn overstayed(&self, limits: Limits) -> &'static str {
        loop {
            match self.deadline(limits) {
                Some((at, why)) if at <= Instant::now() => return why,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at.into()) => {}
                        () = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

/// The socket, telling the watch when bytes come.
struct Watched {
    io: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch.wrote(r.is_ready());
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch.wrote(r.is_ready());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A request's body, telling the watch when it is all in.
struct RequestBody {
    inner: Incoming,
    watch: Arc<Watch>,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream() {
            self.watch.body_done();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.watch.body_done();
    }
}

/// An answer's body, telling the watch when it is written (hyper drops it then).
struct AnswerBody {
    inner: Body,
    watch: Arc<Watch>,
}

impl http_body::Body for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AnswerBody {
    fn drop(&mut self) {
        self.watch.answered();
    }
}

/// Serves `app` on `listener` within `limits` until `stop` turns true, then waits for the
/// connections to end.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max.max(1)));
    let mut open = JoinSet::new();
    loop {
        // A free slot first: past the cap, new connections wait in the listen queue.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: let connections end before trying again.
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        while open.try_join_next().is_some() {}
        open.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            permit,
            stop.clone(),
        ));
    }
    drop(listener);
    while open.join_next().await.is_some() {}
}

/// Returns once `stop` has turned true.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One connection, served until it ends, overstays, or the daemon stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        io: stream,
        watch: watch.clone(),
    });
    let answering = watch.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut app = app.clone();
        let watch = answering.clone();
        async move {
            watch.busy(!http_body::Body::is_end_stream(req.body()));
            let mut req = req.map(|inner| {
                Body::new(RequestBody {
                    inner,
                    watch: watch.clone(),
                })
            });
            req.extensions_mut().insert(ConnectInfo(peer));
            let answer = match tower_service::Service::call(&mut app, req).await {
                Ok(a) => a,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(answer.map(|inner| AnswerBody { inner, watch }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // The watch times headers (and idleness, which hyper's own timeout would count too).
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "a connection ended in error");
                }
                break;
            }
            why = watch.overstayed(limits) => {
                tracing::debug!(%peer, why, "a connection was closed");
                break;
            }
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header: Duration::from_secs(10),
        body: Duration::from_secs(60),
        idle: Duration::from_secs(60),
        max: 1,
    };

    /// A client that asks for a large answer and reads none of it is let go once it has taken
    /// nothing for the idle bound (its socket's buffers hold a sliver of the answer); one that
    /// reads it slowly, for longer than the bound, gets all of it.
    #[tokio::test]
    async fn a_client_that_stops_reading_is_let_go_and_a_slow_one_is_not() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        const SIZE: usize = 32 << 20;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().route(
            "/",
            axum::routing::get(|| async { Bytes::from(vec![b'x'; SIZE]) }),
        );
        let (stop, stopped) = watch::channel(false);
        let limits = Limits {
            header: Duration::from_secs(5),
            body: Duration::from_secs(60),
            idle: Duration::from_secs(1),
            max: 4,
        };
        let served = tokio::spawn(serve(listener, app, limits, stopped));
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("a small window");
        let mut s = socket.connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("ask");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let drained = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                got += n;
            }
        })
        .await;
        assert!(drained.is_ok(), "still held after {got} bytes read");
        assert!(
            got < SIZE,
            "it was let go before the whole answer ({got} bytes)"
        );

        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(65536).expect("a window");
        let mut s = socket.connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("ask");
        let started = Instant::now();
        let mut got = 0usize;
        loop {
            let n = s.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            got += n;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        assert!(
            got > SIZE,
            "a slow reader got the whole answer ({got} bytes)"
        );
        assert!(
            started.elapsed() > limits.idle,
            "and took longer than the idle bound ({:?})",
            started.elapsed()
        );
        let _ = stop.send(true);
        served.await.expect("the listener ends");
    }

    #[test]
    fn each_phase_has_its_own_bound() {
        let w = Watch::new();
        let (at, why) = w.deadline(LIMITS).expect("a new connection is timed");
        assert!(why.contains("headers"));
        assert!(at <= Instant::now() + LIMITS.header);
        w.busy(true);
        let (_, why) = w.deadline(LIMITS).expect("a body that is coming is timed");
        assert!(why.contains("stopped coming"));
        // A byte now and then keeps a pause short, never the whole body's bound.
        let short = Limits {
            body: Duration::from_secs(5),
            ..LIMITS
        };
        w.read();
        let (at, why) = w.deadline(short).expect("a body that is coming is timed");
        assert!(why.contains("took too long"), "{why}");
        assert!(at <= Instant::now() + short.body);
        w.body_done();
        assert!(w.deadline(LIMITS).is_none(), "an answer is not timed");
        w.wrote(false);
        let (_, why) = w
            .deadline(LIMITS)
            .expect("a client that stops reading is timed");
        assert!(why.contains("stopped reading"));
        w.wrote(true);
        assert!(w.deadline(LIMITS).is_none(), "it reads again");
        w.answered();
        let (at, why) = w.deadline(LIMITS).expect("an idle connection is timed");
        assert!(why.contains("idle"));
        assert!(at > Instant::now() + LIMITS.header, "by the idle bound");
        w.read();
        let (at, why) = w
            .deadline(LIMITS)
            .expect("the next request's headers are timed");
        assert!(why.contains("headers"));
        assert!(at <= Instant::now() + LIMITS.header);
        // A byte more does not give the headers more time.
        let before = w.deadline(LIMITS);
        std::thread::sleep(Duration::from_millis(5));
        w.read();
        assert_eq!(w.deadline(LIMITS), before);
    }
}
