//! A TCP relay with a fixed address that a fault test can break and mend: it drops every
//! connection and refuses new ones while down, and can be pointed at a restarted server
//! on a new port, so the servers that call through it never change their configuration.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections on [`addr`](Relay::addr) to the current upstream.
pub struct Relay {
    /// Where clients connect; the same for the relay's whole life.
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    down: Arc<AtomicBool>,
    // Bumped on every break: connections of an older generation close.
    generation: watch::Sender<u64>,
    breaks: AtomicU64,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let upstream = Arc::new(Mutex::new(upstream));
        let down = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accept = {
            let (upstream, down, generation) = (upstream.clone(), down.clone(), generation.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let _ = client.set_nodelay(true);
                    if down.load(Ordering::SeqCst) {
                        // Refused: closed at once, like a server that is not there.
                        drop(client);
                        continue;
                    }
                    let target = *upstream.lock().expect("relay upstream");
                    let mut broken = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = server.set_nodelay(true);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = broken.changed() => {}
                        }
                    });
                }
            })
        };
        Self {
            addr,
            upstream,
            down,
            generation,
            breaks: AtomicU64::new(0),
            accept,
        }
    }

    /// `http://<addr>`, for gRPC endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.breaks.fetch_add(1, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Sends new connections to `upstream` (a server restarted on another port).
    pub fn point_at(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("relay upstream") = upstream;
    }

    /// How many times the relay was cut.
    pub fn breaks(&self) -> u64 {
        self.breaks.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}
