//! Starts the real `mandi-server` binary on free ports and stops it at the end of a test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `mandi-server`; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// The gRPC and grpc-web address.
    pub grpc: SocketAddr,
    /// The admin HTTP address (metrics, JWKS).
    pub admin: SocketAddr,
    /// The gateway's address (grpc-web, gRPC, the storefront), when the target runs it.
    pub gateway: Option<SocketAddr>,
    log: PathBuf,
}

impl ServerProcess {
    /// The binary: `MANDI_SERVER_BIN`, or `mandi-server` in the target directory the test
    /// binary was built in (`cargo build -p mandi-server` first; `make test` does).
    pub fn binary() -> PathBuf {
        if let Ok(path) = std::env::var("MANDI_SERVER_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("test binary lives in <target>/<profile>/deps");
        let binary = profile_dir.join("mandi-server");
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build -p mandi-server` (make test does)",
            binary.display()
        );
        binary
    }

    /// Starts `mandi-server --target=<target>` on port 0 with the given extra environment
    /// and waits until it listens.
    pub fn start(target: &str, env: &[(&str, &str)]) -> Self {
        let log = std::env::temp_dir().join(format!(
            "mandi-server-{}.log",
            uuid::Uuid::now_v7().simple()
        ));
        let log_file = std::fs::File::create(&log).expect("create server log file");
        let filter = if std::env::var_os("TEST_LOG").is_some() {
            "info"
        } else {
            "warn"
        };
        let mut child = Command::new(Self::binary())
            .arg(format!("--target={target}"))
            .arg("--listen=127.0.0.1:0")
            .arg("--admin-listen=127.0.0.1:0")
            .arg("--gateway-listen=127.0.0.1:0")
            .env("MANDI_LOG__FILTER", filter)
            // Tests stock what they need; the demo stock of `make run` would skew counts.
            .env("MANDI_INVENTORY__DEMO_STOCK", "false")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawn mandi-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addrs) = parse_listening(&line) {
                    let _ = tx.send(addrs);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((grpc, admin, gateway)) => Self {
                child,
                grpc,
                admin,
                gateway,
                log,
            },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mandi-server --target={target} did not start; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    }

    /// The process id (for its /proc entries: memory in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://<grpc address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// `http://<gateway address>`; panics when the target does not run the gateway.
    pub fn gateway_url(&self) -> String {
        format!(
            "http://{}",
            self.gateway.expect("this server runs no gateway")
        )
    }

    /// `http://<admin address>`.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(self) -> ExitStatus {
        self.send_sigterm();
        self.wait()
    }

    /// Sends SIGTERM without waiting.
    pub fn send_sigterm(&self) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit.
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().expect("wait for mandi-server")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `listening grpc=<addr> admin=<addr>[ gateway=<addr>]`.
fn parse_listening(line: &str) -> Option<(SocketAddr, SocketAddr, Option<SocketAddr>)> {
    let rest = line.strip_prefix("listening grpc=")?;
    let (grpc, rest) = rest.split_once(" admin=")?;
    let (admin, gateway) = match rest.split_once(" gateway=") {
        Some((admin, gateway)) => (admin, Some(gateway.trim().parse().ok()?)),
        None => (rest, None),
    };
    Some((grpc.parse().ok()?, admin.trim().parse().ok()?, gateway))
}
