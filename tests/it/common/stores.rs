//! The session stores that flows in `tests/stores.rs` must hold on: memory,
//! memory with lagging reads (like a busy remote store), and a real
//! `redis-server`, plain or lagging. [`for_each_store!`] turns one flow
//! into one test per store.
//!
//! Every store is handed out as a [`TroubleStore`] over a [`Backend`], so a
//! flow is written once against one concrete type, and each instance of the
//! service gets its own handle to the same data
//! ([`Stores::another_handle`]): a clone of the same `MemoryStore`, or a new
//! connection pool to the same Redis.

use std::str::FromStr;

use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::Pool;

use super::TroubleStore;
use super::redis::{RedisServer, connect, start_redis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `tower_sessions::MemoryStore`.
    Memory,
    /// A `MemoryStore` whose reads answer late ([`TroubleStore::lagging`]).
    Lagging,
    /// `tower_sessions_redis_store::RedisStore` on a `redis-server` of the test's own.
    Redis,
    /// Redis with lagging reads, for flows that need requests to interleave.
    LaggingRedis,
}

impl FromStr for StoreKind {
    type Err = String;

    /// The names [`for_each_store!`] uses for its tests.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "memory" => Ok(StoreKind::Memory),
            "lagging" => Ok(StoreKind::Lagging),
            "redis" => Ok(StoreKind::Redis),
            "lagging_redis" => Ok(StoreKind::LaggingRedis),
            other => Err(format!("no store kind {other}")),
        }
    }
}

/// The store behind a [`Store`] handle.
#[derive(Debug, Clone)]
pub enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore<Pool>),
}

#[async_trait::async_trait]
impl SessionStore for Backend {
    async fn create(&self, record: &mut Record) -> tower_sessions::session_store::Result<()> {
        match self {
            Backend::Memory(store) => store.create(record).await,
            Backend::Redis(store) => store.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> tower_sessions::session_store::Result<()> {
        match self {
            Backend::Memory(store) => store.save(record).await,
            Backend::Redis(store) => store.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> tower_sessions::session_store::Result<Option<Record>> {
        match self {
            Backend::Memory(store) => store.load(id).await,
            Backend::Redis(store) => store.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> tower_sessions::session_store::Result<()> {
        match self {
            Backend::Memory(store) => store.delete(id).await,
            Backend::Redis(store) => store.delete(id).await,
        }
    }
}

/// What a flow gets as its session store.
pub type Store = TroubleStore<Backend>;

/// One store's data, for one test: hands out handles to it.
pub struct Stores {
    pub kind: StoreKind,
    memory: MemoryStore,
    redis: Option<RedisServer>,
    first: Store,
}

impl StoreKind {
    /// A fresh, empty store of this kind; `None` (skip the test) for Redis
    /// without `redis-server` (a failure with `AXUM_BANKID_REQUIRE_REDIS=1`).
    pub async fn open(self) -> Option<Stores> {
        let redis = match self {
            StoreKind::Memory | StoreKind::Lagging => None,
            StoreKind::Redis | StoreKind::LaggingRedis => Some(start_redis()?),
        };
        let mut stores = Stores {
            kind: self,
            memory: MemoryStore::default(),
            redis,
            first: Store::new(Backend::Memory(MemoryStore::default())),
        };
        stores.first = stores.another_handle().await;
        Some(stores)
    }

    fn lags(self) -> bool {
        matches!(self, StoreKind::Lagging | StoreKind::LaggingRedis)
    }
}

impl Stores {
    /// The first instance's handle (clones share its trouble switches).
    pub fn store(&self) -> Store {
        self.first.clone()
    }

    /// A handle for another instance of the service, to the same data: the
    /// same `MemoryStore`, or a new connection pool to the same Redis. Its
    /// trouble switches are its own.
    pub async fn another_handle(&self) -> Store {
        let backend = match &self.redis {
            None => Backend::Memory(self.memory.clone()),
            Some(server) => Backend::Redis(RedisStore::new(connect(server.port).await)),
        };
        if self.kind.lags() { TroubleStore::lagging(backend) } else { TroubleStore::new(backend) }
    }

    /// How many keys Redis holds (`redis-cli dbsize`); `None` for memory
    /// stores or without `redis-cli`.
    pub fn redis_keys(&self) -> Option<u64> {
        let port = self.redis.as_ref()?.port;
        let out = std::process::Command::new("redis-cli").args(["-p", &port.to_string(), "dbsize"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    }
}

/// One `#[tokio::test]` per store for `async fn flow(stores: &Stores)`, in a
/// module named after the flow: `flow::memory`, `flow::lagging`,
/// `flow::redis` (the default set), or the stores listed after a colon
/// (`memory`, `lagging`, `redis`, `lagging_redis`).
#[macro_export]
macro_rules! for_each_store {
    ($flow:ident) => {
        $crate::for_each_store!($flow: memory, lagging, redis);
    };
    ($flow:ident: $($store:ident),+ $(,)?) => {
        mod $flow {
            $(
                #[tokio::test]
                async fn $store() {
                    let kind: $crate::common::stores::StoreKind = stringify!($store).parse().unwrap();
                    if let Some(stores) = kind.open().await {
                        super::$flow(&stores).await;
                    }
                }
            )+
        }
    };
}
