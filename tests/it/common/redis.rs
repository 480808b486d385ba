//! A real `redis-server` for tests: started on a free loopback port, killed
//! on drop. Without the binary the test is skipped, unless
//! `AXUM_BANKID_REQUIRE_REDIS=1` (CI) makes that a failure.
//!
//! [`start_redis`] runs without persistence; [`start_persistent_redis`]
//! keeps an append-only file in a fresh directory, so a test can
//! [`shutdown`](RedisServer::shutdown) the server and
//! [`restart`](RedisServer::restart) it with its data on the same port.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// The append-only file's directory, for a persistent server.
    dir: Option<PathBuf>,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether `redis-server` is installed; panics when it is not and
/// `AXUM_BANKID_REQUIRE_REDIS=1`.
fn redis_installed() -> bool {
    let found = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok();
    if !found {
        if std::env::var("AXUM_BANKID_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("redis-server is required (AXUM_BANKID_REQUIRE_REDIS=1) but not on PATH");
        }
        eprintln!("SKIPPED: redis-server not found; install it to run the Redis tests");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a server without persistence, or `None` (skip) when redis-server
/// is not installed.
pub fn start_redis() -> Option<RedisServer> {
    if !redis_installed() {
        return None;
    }
    let mut server = RedisServer { child: None, port: free_port(), dir: None };
    server.spawn();
    Some(server)
}

/// Starts a server with append-only persistence in a fresh directory, or
/// `None` (skip) when redis-server is not installed. Returns once it listens.
pub fn start_persistent_redis() -> Option<RedisServer> {
    if !redis_installed() {
        return None;
    }
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("axum-bankid-redis-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = RedisServer { child: None, port, dir: Some(dir) };
    server.restart();
    Some(server)
}

impl RedisServer {
    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        match &self.dir {
            Some(dir) => command.args(["--appendonly", "yes", "--dir"]).arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        self.child = Some(command.stdout(Stdio::null()).spawn().expect("spawn redis-server"));
    }

    /// `SHUTDOWN`: Redis writes its append-only file (if persistent) and exits.
    pub fn shutdown(&mut self) {
        let _ = Command::new("redis-cli").args(["-p", &self.port.to_string(), "shutdown"]).status();
        if let Some(mut child) = self.child.take() {
            child.wait().expect("redis-server exits after SHUTDOWN");
        }
    }

    /// Starts the server (again) on the same port and directory, and waits
    /// (bounded) until it accepts connections.
    pub fn restart(&mut self) {
        self.spawn();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// A connection pool to the server on `port`, once it accepts connections.
pub async fn connect(port: u16) -> Pool {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = Config::from_url(&format!("redis://127.0.0.1:{port}")).unwrap();
    let pool = Pool::new(config, None, None, None, 2).unwrap();
    pool.init().await.expect("connect to redis-server");
    pool
}
