//! The S3 server the benchmark reads its input from, and the upload of the workload.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stores::Target;
use crate::{Error, BIN, BUCKET};

/// The S3 server the benchmark reads from: a `moto_server` of its own on loopback, or the
/// endpoint in `PERSONALIZE_LOCAL_BENCH_S3_ENDPOINT`.
pub(crate) struct S3Server {
    pub(crate) endpoint: String,
    moto: Option<Child>,
}

impl S3Server {
    pub(crate) fn start(work: &Path) -> Result<S3Server, Error> {
        if let Ok(endpoint) = std::env::var("PERSONALIZE_LOCAL_BENCH_S3_ENDPOINT") {
            return Ok(S3Server {
                endpoint,
                moto: None,
            });
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let moto = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::fs::File::create(work.join("moto.log"))?)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot start moto_server ({e}): pip install 'moto[server]', or set PERSONALIZE_LOCAL_BENCH_S3_ENDPOINT")
            })?;
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            moto: Some(moto),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("moto_server did not start within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    pub(crate) fn name(&self) -> String {
        match self.moto {
            Some(_) => format!("moto at {}", self.endpoint),
            None => self.endpoint.clone(),
        }
    }

    /// `personalize-local --data-dir store` with this server's endpoint and test keys
    /// (unless the environment has keys of its own).
    pub(crate) fn command(&self, store: &Target) -> Command {
        let mut c = Command::new(BIN);
        c.args(store.args());
        c.env("PERSONALIZE_LOCAL_S3_ENDPOINT", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("RUST_LOG");
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            c.env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test");
        }
        c
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(moto) = &mut self.moto {
            let _ = moto.kill();
            let _ = moto.wait();
        }
    }
}

/// Creates the bucket (if needed) and uploads every CSV file of the workload.
pub(crate) async fn upload(endpoint: &str, data: &Path) -> Result<(), Error> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "bench",
        ));
    }
    let config = loader.load().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    if let Err(e) = s3.create_bucket().bucket(BUCKET).send().await {
        let code = e
            .as_service_error()
            .and_then(|e| e.meta().code())
            .unwrap_or("");
        if !matches!(code, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") {
            return Err(e.into());
        }
    }
    let mut files = Vec::new();
    collect_csv(data, data, &mut files)?;
    let started = Instant::now();
    for (key, path) in &files {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_path(path).await?)
            .send()
            .await?;
    }
    eprintln!(
        "uploaded {} files to {endpoint} in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn collect_csv(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_csv(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "csv") {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((key, path));
        }
    }
    out.sort();
    Ok(())
}
