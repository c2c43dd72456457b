//! The reference workload W of the deletion benchmark, at any scale, in the layout the peer
//! baselines read (`users.csv`, `interactions.csv`, `items.csv`, `deletions/**`,
//! `expected.json`). At scale 1 (W1):
//!
//! - `users.csv`: 1,000,000 users `USER_ID,AGE,MEMBERSHIP`; IDs are `u` and zero-padded
//!   digits, 8 to 24 characters;
//! - `interactions.csv`: 10,000,000 rows `USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE`, rows per user
//!   drawn from a lognormal(0, 1.2) activity weight (a median of about 6, a long tail, and
//!   about 10% of users with none), items from a Zipf(0.8) popularity, timestamps rising;
//! - `items.csv`: 100,000 rows `ITEM_ID,CATEGORY,CREATION_TIMESTAMP`;
//! - `deletions/`, `deletions/2026/`, `deletions/2026/11/`: 12 files, header `USER_ID`,
//!   2,000,000 ID lines holding 500,000 distinct IDs, 90% of them known users; repeats within
//!   and across files, about 0.1% of lines quoted and 0.1% ending in CRLF, one file with a
//!   UTF-8 byte-order mark, one without a final newline;
//! - `expected.json`: the counts a correct job reports.
//!
//! Every count scales linearly. The same scale and seed give the same bytes.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::{json, Value};

/// The seed of the reference workload.
pub const SEED: u64 = 20261123;

const MEMBERSHIPS: [(&str, f64); 3] = [("basic", 0.6), ("premium", 0.3), ("gold", 0.1)];
const EVENTS: [(&str, f64); 3] = [("click", 0.25), ("purchase", 0.05), ("view", 0.70)];
const T0: u64 = 1_735_689_600; // 2025-01-01T00:00:00Z
const T_SPAN: u64 = 300 * 86_400;
const FILES: usize = 12;
const BOM_FILE: usize = 4;
const NO_FINAL_NEWLINE_FILE: usize = 11;

/// SplitMix64: small, fast and reproducible everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + ((self.next_u64() as u128 * (hi - lo) as u128) >> 64) as u64
    }

    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.range(0, i as u64 + 1) as usize);
        }
    }

    fn pick<'a>(&mut self, choices: &[(&'a str, f64)]) -> &'a str {
        let mut x = self.unit();
        for &(c, p) in choices {
            if x < p {
                return c;
            }
            x -= p;
        }
        choices[choices.len() - 1].0
    }
}

/// Index drawn in proportion to `cumulative` weights (rising, last = total).
fn draw(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let x = rng.unit() * cumulative[cumulative.len() - 1];
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// Writes the workload at `scale` into `out` and returns its `expected.json`.
pub fn generate(scale: f64, seed: u64, out: &Path) -> io::Result<Value> {
    let n = |base: f64| (base * scale).round().max(1.0) as usize;
    let n_users = n(1_000_000.0);
    let n_inter = n(10_000_000.0);
    let n_items = n(100_000.0);
    let n_lines = n(2_000_000.0).max(FILES);
    let n_distinct = n(500_000.0).min(n_lines);
    let n_known = ((n_distinct as f64 * 0.9).round() as usize).min(n_users);
    let n_unknown = n_distinct - n_known;
    let mut rng = Rng(seed);
    fs::create_dir_all(out)?;

    // User IDs: the first `n_users` numbers belong to users, the rest are the unknown IDs
    // of the deletion input (same shape, never in users.csv).
    let mut nums: Vec<u64> = (0..(n_users + n_unknown) as u64).collect();
    rng.shuffle(&mut nums);
    let ids: Vec<String> = nums
        .iter()
        .map(|&k| {
            let width = rng.range(8, 25) as usize - 1;
            format!("u{k:0width$}")
        })
        .collect();
    drop(nums);

    let mut w = create(&out.join("users.csv"))?;
    writeln!(w, "USER_ID,AGE,MEMBERSHIP")?;
    for id in &ids[..n_users] {
        let age = rng.range(18, 81);
        writeln!(w, "{id},{age},{}", rng.pick(&MEMBERSHIPS))?;
    }
    w.flush()?;

    let mut item_nums: Vec<u64> = (0..n_items as u64).collect();
    rng.shuffle(&mut item_nums);
    let items: Vec<String> = item_nums.iter().map(|k| format!("i{k:08}")).collect();
    let mut w = create(&out.join("items.csv"))?;
    writeln!(w, "ITEM_ID,CATEGORY,CREATION_TIMESTAMP")?;
    for item in &items {
        let category = rng.range(0, 20);
        let created = rng.range(T0 - 3 * 365 * 86_400, T0);
        writeln!(w, "{item},cat{category:02},{created}")?;
    }
    w.flush()?;

    // Interactions: a user per row in proportion to a lognormal activity weight, an item
    // by Zipf popularity, timestamps rising through the file.
    let activity = cumulative((0..n_users).map(|_| (1.2 * rng.normal()).exp()));
    let popularity = cumulative((1..=n_items).map(|r| (r as f64).powf(-0.8)));
    let mut per_user = vec![0u32; n_users];
    let mut w = create(&out.join("interactions.csv"))?;
    writeln!(w, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE")?;
    for i in 0..n_inter {
        let user = draw(&mut rng, &activity);
        per_user[user] += 1;
        let item = &items[draw(&mut rng, &popularity)];
        let ts = T0 + (i as u128 * T_SPAN as u128 / n_inter as u128) as u64;
        writeln!(w, "{},{item},{ts},{}", ids[user], rng.pick(&EVENTS))?;
    }
    w.flush()?;
    drop(activity);

    // Deletion input: the distinct IDs once each, then repeats of them, shuffled together.
    let mut users: Vec<u32> = (0..n_users as u32).collect();
    for i in 0..n_known {
        let j = rng.range(i as u64, n_users as u64) as usize;
        users.swap(i, j);
    }
    let known = &users[..n_known];
    let interactions_deleted: u64 = known.iter().map(|&u| per_user[u as usize] as u64).sum();
    let mut distinct: Vec<u32> = known.to_vec();
    distinct.extend((n_users..n_users + n_unknown).map(|k| k as u32));
    let mut lines = distinct.clone();
    for _ in n_distinct..n_lines {
        lines.push(distinct[rng.range(0, n_distinct as u64) as usize]);
    }
    rng.shuffle(&mut lines);

    // File sizes in Dirichlet(3) proportions (each a sum of three exponentials), at least
    // one line each.
    let shares: Vec<f64> = (0..FILES)
        .map(|_| (0..3).map(|_| -(1.0 - rng.unit()).ln()).sum())
        .collect();
    let total: f64 = shares.iter().sum();
    let mut sizes: Vec<usize> = shares
        .iter()
        .map(|s| ((s / total * n_lines as f64) as usize).max(1))
        .collect();
    let head: usize = sizes[..FILES - 1].iter().sum();
    sizes[FILES - 1] = n_lines.saturating_sub(head).max(1);
    while sizes.iter().sum::<usize>() > n_lines {
        let largest = (0..FILES).max_by_key(|&i| sizes[i]).unwrap_or(0);
        sizes[largest] -= 1;
    }

    let (mut quoted, mut crlf, mut bytes) = (0u64, 0u64, 0u64);
    let mut file_list = Vec::new();
    let mut lines = lines.into_iter();
    for (f, &size) in sizes.iter().enumerate() {
        let dir = ["deletions", "deletions/2026", "deletions/2026/11"][f / 4];
        let key = format!("{dir}/part-{f:05}.csv");
        let mut body: Vec<u8> = Vec::new();
        if f == BOM_FILE {
            body.extend_from_slice("\u{feff}".as_bytes());
        }
        body.extend_from_slice(b"USER_ID\n");
        for k in lines.by_ref().take(size) {
            let id = &ids[k as usize];
            if rng.unit() < 0.001 {
                quoted += 1;
                write!(body, "\"{id}\"")?;
            } else {
                body.extend_from_slice(id.as_bytes());
            }
            if rng.unit() < 0.001 {
                crlf += 1;
                body.extend_from_slice(b"\r\n");
            } else {
                body.push(b'\n');
            }
        }
        if f == NO_FINAL_NEWLINE_FILE {
            while body.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                body.pop();
            }
        }
        fs::create_dir_all(out.join(dir))?;
        fs::write(out.join(&key), &body)?;
        bytes += body.len() as u64;
        file_list.push(json!({
            "key": key, "id_lines": size, "bytes": body.len(),
            "bom": f == BOM_FILE, "final_newline": f != NO_FINAL_NEWLINE_FILE,
        }));
    }

    let mut counts: Vec<u32> = per_user.clone();
    counts.sort_unstable();
    let nonzero: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    let at = |v: &[u32], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let expected = json!({
        "scale": scale,
        "seed": seed,
        "generator": "personalize-local benches/deletion/workload.rs",
        "deletion_prefix": "deletions/",
        "deletion_files": FILES,
        "deletion_id_lines": n_lines,
        "deletion_bytes": bytes,
        "deletion_quoted_lines": quoted,
        "deletion_crlf_lines": crlf,
        "distinct_ids": n_distinct,
        "distinct_ids_known": n_known,
        "distinct_ids_unknown": n_unknown,
        "users_rows_deleted": n_known,
        "interactions_rows_deleted": interactions_deleted,
        "items_rows_deleted": 0,
        "records_deleted": n_known as u64 + interactions_deleted,
        "rows_before": {"users": n_users, "interactions": n_inter, "items": n_items},
        "rows_remaining": {
            "users": n_users - n_known,
            "interactions": n_inter as u64 - interactions_deleted,
            "items": n_items,
        },
        "interactions_per_user": {
            "users_with_none": counts.len() - nonzero.len(),
            "median_nonzero": nonzero.get(nonzero.len() / 2).copied().unwrap_or(0),
            "p99": at(&counts, 0.99),
            "max": counts.last().copied().unwrap_or(0),
            "users_with_100_plus": counts.iter().filter(|&&c| c >= 100).count(),
        },
        "deletion_file_list": file_list,
    });
    fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected)? + "\n",
    )?;
    Ok(expected)
}
