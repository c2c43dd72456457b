//! A server inside a Rust test: the API and its worker on 127.0.0.1 and a free port, over
//! a fresh SQLite store in a temporary folder, with S3 answered on the same endpoint from
//! another temporary folder (`serve --s3-dir`), so the real SDK clients need one endpoint.
//! Stopped, and its folders removed, when dropped.
//!
//! ```ignore
//! let server = personalize_local::testing::Server::start().await?;
//! let config = server.sdk_config();
//! let s3 = aws_sdk_s3::Client::from_conf(
//!     aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
//! );
//! let personalize = aws_sdk_personalize::Client::new(&config);
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use tokio::sync::oneshot;

use crate::api::{ApiConfig, AppState};
use crate::source::embedded::{self, ACCESS_KEY, SECRET_KEY};
use crate::source::s3::S3Source;
use crate::source::DynObjectSource;
use crate::store::sqlite::SqliteStore;
use crate::store::DynDatasetStore;
use crate::worker::WorkerConfig;

/// A running server; see the [module](self).
#[derive(Debug)]
pub struct Server {
    endpoint: String,
    s3_dir: PathBuf,
    store: DynDatasetStore,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server: groups become ACTIVE at once, jobs run in this process.
    pub async fn start() -> std::io::Result<Server> {
        let dir = tempfile::tempdir()?;
        let s3_dir = dir.path().join("s3");
        std::fs::create_dir_all(&s3_dir)?;
        let store: DynDatasetStore = Arc::new(
            SqliteStore::open_dir(&dir.path().join("store")).map_err(std::io::Error::other)?,
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let source: DynObjectSource = Arc::new(S3Source::new(embedded::client_for(&endpoint)));
        let config = ApiConfig {
            transition: Duration::ZERO,
            s3: Some(embedded::service(&s3_dir, &[])?),
            ..ApiConfig::default()
        };
        let state = AppState::new(store.clone(), source, config);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(crate::server::run(
            listener,
            state,
            Some(WorkerConfig::default()),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Server {
            endpoint,
            s3_dir,
            store,
            stop: Some(stop),
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`: Personalize, Personalize Runtime, Personalize Events and S3.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint
    }

    /// The configuration for any AWS SDK client of this server: its endpoint, region
    /// `us-east-1`, and the credentials it accepts (`test` / `test`). S3 clients also need
    /// path-style addressing (`force_path_style(true)`).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                None,
                None,
                "personalize-local",
            )))
            .build()
    }

    /// The folder S3 is served from: each top-level folder a bucket.
    pub fn s3_dir(&self) -> &Path {
        &self.s3_dir
    }

    /// The server's store, to look at what it holds.
    pub fn store(&self) -> &DynDatasetStore {
        &self.store
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
