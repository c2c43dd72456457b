//! `--peers`: the peers of `../shared/bench` on the same workload files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::Error;

/// Runs the peers of `../shared/bench` (`bench.py --only ...`) on the workload in `data`,
/// in the virtualenv `$VENV` (default `/tmp/peers-venv`, created and filled from its
/// `requirements.txt` when missing), building their stores first if they are not there.
/// Returns one summary per peer, with the medians of its runs.
pub(crate) fn run_peers(
    data: &Path,
    runs: usize,
    peers: &[String],
    work: &Path,
) -> Result<Vec<Value>, Error> {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    if !bench.join("bench.py").exists() {
        return Err(format!("--peers needs {} (the shared benchmark)", bench.display()).into());
    }
    let venv = PathBuf::from(std::env::var("VENV").unwrap_or_else(|_| "/tmp/peers-venv".into()));
    let python = venv.join("bin/python");
    let step = |cmd: &mut Command, what: &str| -> Result<(), Error> {
        let status = cmd.stdout(Stdio::null()).status()?;
        if !status.success() {
            return Err(format!("{what} failed: {status}").into());
        }
        Ok(())
    };
    if !python.exists() {
        step(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "creating the peers' virtualenv",
        )?;
    }
    step(
        Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(bench.join("requirements.txt")),
        "installing the peers' requirements",
    )?;
    if !(data.join("store.sqlite").exists() && data.join("store.duckdb").exists()) {
        step(
            Command::new(&python)
                .arg(bench.join("prepare.py"))
                .arg("--data")
                .arg(data),
            "building the peers' stores",
        )?;
    }
    let results = work.join("peers");
    let status = Command::new(&python)
        .arg(bench.join("bench.py"))
        .arg("--data")
        .arg(data)
        .args(["--runs", &runs.to_string(), "--only", &peers.join(",")])
        .arg("--results")
        .arg(&results)
        .stdout(Stdio::inherit())
        .status()?;
    if !status.success() {
        return Err(format!("the peers' benchmark failed: {status}").into());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&results)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let report: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let Some(by_peer) = report["runs"].as_object() else {
            continue;
        };
        for (peer, runs) in by_peer {
            let runs = runs.as_array().cloned().unwrap_or_default();
            let median = |key: &str| {
                let mut v: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied()
            };
            out.push(json!({
                "peer": peer,
                "runs": runs.len(),
                "medianJobSeconds": median("total_s"),
                "medianPhases": {"parse": median("parse_s"), "purge": median("purge_s")},
                "medianPeakRssMB": median("peak_rss_mb"),
                "allExact": !runs.is_empty() && runs.iter().all(|r| r["ok"] == true),
            }));
        }
    }
    Ok(out)
}
