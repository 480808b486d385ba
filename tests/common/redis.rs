//! A real `redis-server` for tests: started on a free loopback port without
//! persistence, killed on drop. Without the binary the test is skipped, unless
//! `AXUM_BANKID_REQUIRE_REDIS=1` (CI) makes that a failure.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server, or `None` (skip) when redis-server is not installed.
pub fn start_redis() -> Option<RedisServer> {
    let found = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok();
    if !found {
        if std::env::var("AXUM_BANKID_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("redis-server is required (AXUM_BANKID_REQUIRE_REDIS=1) but not on PATH");
        }
        eprintln!("SKIPPED: redis-server not found; install it to run the Redis tests");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    Some(RedisServer { child, port })
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
