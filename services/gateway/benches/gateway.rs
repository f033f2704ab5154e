//! Unary calls per second through the gateway (grpc-web over HTTP/1.1 keep-alive, one
//! connection per caller as a browser would hold) beside the same call straight to the
//! services over gRPC (one HTTP/2 channel), with the same concurrency, rounds interleaved
//! in the same run so the shared machine's noise hits both alike. The call is inventory's
//! public GetAvailability on `mandi-server --target=all` (release build), so the figure is
//! the gateway's own cost: decoding grpc-web, the edge rules, the rate limit check, and
//! one more hop.
//!
//! Run with `make bench` (it builds the release server first).

use std::net::SocketAddr;
use std::time::Duration;

use mandi_sdk::proto::mandi::inventory::v1::GetAvailabilityRequest;
use mandi_sdk::proto::mandi::inventory::v1::inventory_service_client::InventoryServiceClient;
use mandi_testkit::ServerProcess;
use mandi_testkit::bench::{Run, median, round};
use prost::Message as _;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

const CONCURRENCY: usize = 32;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 5;
const PATH: &str = "/mandi.inventory.v1.InventoryService/GetAvailability";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = ServerProcess::start(
        "all",
        &[
            // The limits are not what is measured here.
            ("MANDI_GATEWAY__IP_RATE_LIMIT", "1000000000/1s"),
            ("MANDI_SERVER__CONCURRENCY_LIMIT", "100000"),
        ],
    );
    let gateway = server.gateway.ok_or("--target=all runs the gateway")?;
    runtime.block_on(gateway_vs_direct(&server, gateway))
}

fn request() -> GetAvailabilityRequest {
    GetAvailabilityRequest {
        product_id: "0190f5a8-0000-7000-8000-000000000001".into(),
    }
}

async fn gateway_vs_direct(server: &ServerProcess, gateway: SocketAddr) -> Result<(), BoxError> {
    let channel = tonic::transport::Endpoint::from_shared(server.url())?
        .connect()
        .await?;
    let direct = InventoryServiceClient::new(channel);
    direct.clone().get_availability(request()).await?;

    let mut framed = vec![0u8];
    let body = request().encode_to_vec();
    framed.extend_from_slice(&u32::try_from(body.len())?.to_be_bytes());
    framed.extend_from_slice(&body);
    let mut probe = WebConnection::open(gateway).await?;
    if !probe.call(&framed).await? {
        return Err("a grpc-web GetAvailability through the gateway did not answer OK".into());
    }

    let (mut through, mut straight): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let client = direct.clone();
        straight.push(
            round(CONCURRENCY, ROUND, move || {
                let mut client = client.clone();
                async move { client.get_availability(request()).await.is_ok() }
            })
            .await,
        );
        // One keep-alive connection per caller, handed out round-robin.
        let connections = Pool::open(gateway, CONCURRENCY).await?;
        let framed = framed.clone();
        through.push(
            round(CONCURRENCY, ROUND, move || {
                let connections = connections.clone();
                let framed = framed.clone();
                async move {
                    let mut connection = connections.take().await;
                    let ok = connection.call(&framed).await.unwrap_or(false);
                    connections.give(connection).await;
                    ok
                }
            })
            .await,
        );
    }
    let via = median(through.iter().map(Run::per_second));
    let direct = median(straight.iter().map(Run::per_second));
    println!(
        "gateway: GetAvailability through the gateway (grpc-web, HTTP/1.1) {via:.0}/s vs direct gRPC {direct:.0}/s at concurrency {CONCURRENCY}: ratio {:.2} (median of {ROUNDS} rounds of {}s)",
        via / direct.max(1.0),
        ROUND.as_secs()
    );
    Ok(())
}

/// Idle keep-alive connections, shared by the callers of a round.
#[derive(Clone)]
struct Pool {
    idle: std::sync::Arc<tokio::sync::Mutex<Vec<WebConnection>>>,
    ready: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Pool {
    async fn open(addr: SocketAddr, size: usize) -> Result<Self, BoxError> {
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(WebConnection::open(addr).await?);
        }
        Ok(Self {
            idle: std::sync::Arc::new(tokio::sync::Mutex::new(idle)),
            ready: std::sync::Arc::new(tokio::sync::Semaphore::new(size)),
        })
    }

    async fn take(&self) -> WebConnection {
        if let Ok(permit) = self.ready.acquire().await {
            permit.forget();
        }
        let mut idle = self.idle.lock().await;
        idle.pop()
            .unwrap_or_else(|| unreachable!("a permit means an idle connection"))
    }

    async fn give(&self, connection: WebConnection) {
        self.idle.lock().await.push(connection);
        self.ready.add_permits(1);
    }
}

/// One HTTP/1.1 keep-alive connection speaking grpc-web, the way a browser's fetch does.
struct WebConnection {
    stream: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl WebConnection {
    async fn open(addr: SocketAddr) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            addr,
        })
    }

    /// Sends one call and reads the whole answer; whether it ended with grpc-status 0.
    async fn call(&mut self, framed: &[u8]) -> Result<bool, BoxError> {
        let head = format!(
            "POST {PATH} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            framed.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(framed).await?;

        let mut chunked = false;
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = Some(value.trim().parse::<usize>()?);
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        }
        // The trailers frame (flag 0x80) carries the status.
        Ok(body.windows(14).any(|w| w == b"grpc-status:0\r"))
    }
}
