//! The purge in PostgreSQL: one transaction locks the job's row and checks its lease, copies
//! the distinct IDs into a temporary table with binary `COPY` (memory bounded: never one
//! giant parameter list), deletes every user-bearing dataset's users (one row each, their
//! records packed) with one `DELETE ... USING` each, in key order ([`plan`]),
//! whose packed counts summed are the dataset's share of `numDeleted`, writes the job
//! `COMPLETED` and commits all of it at once.

use std::time::Instant;

use deadpool_postgres::Object;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::GenericClient;

use super::catalog::dataset_id;
use super::{jobs, DbResult};
use crate::jobs::model::Job;
use crate::store::{DatasetType, JobCommit, PurgeCounts, StoreError, UserIds};

pub(super) async fn purge(
    client: &mut Object,
    group_arn: &str,
    ids: &UserIds,
    commit: JobCommit,
) -> DbResult<(PurgeCounts, Job)> {
    let tx = client.transaction().await?;
    jobs::check_held(&*tx, &commit.lease).await?;
    if tx
        .query_opt(
            "SELECT 1 FROM dataset_groups WHERE arn = $1 FOR SHARE",
            &[&group_arn],
        )
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound(group_arn.to_owned()));
    }
    let started = Instant::now();
    tx.batch_execute("CREATE TEMP TABLE purge_ids (id TEXT COLLATE \"C\" NOT NULL) ON COMMIT DROP")
        .await?;
    let sink = tx
        .copy_in("COPY purge_ids (id) FROM STDIN (FORMAT binary)")
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT]);
    futures::pin_mut!(writer);
    for id in ids.iter() {
        let row: [&(dyn ToSql + Sync); 1] = [&id];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    // The IDs are distinct already; the planner needs to know how many there are, and no
    // more: a sample of them would stay in `pg_statistic` (see `erase`).
    tx.batch_execute("ALTER TABLE purge_ids ALTER COLUMN id SET STATISTICS 0; ANALYZE purge_ids")
        .await?;
    tracing::debug!(
        ids = ids.len(),
        seconds = started.elapsed().as_secs_f64(),
        "copied the IDs"
    );
    tx.batch_execute(plan(&*tx, ids.len()).await?).await?;
    let mut counts = PurgeCounts::default();
    for t in DatasetType::ALL.into_iter().filter(|t| t.holds_users()) {
        if let Some((id, _)) = dataset_id(&*tx, group_arn, t).await? {
            let started = Instant::now();
            let row = tx
                .query_one(
                    "WITH gone AS (
                         DELETE FROM user_records r USING purge_ids p
                         WHERE r.dataset_id = $1 AND r.key = p.id
                         RETURNING r.n)
                     SELECT count(*), coalesce(sum(n), 0)::bigint FROM gone",
                    &[&id],
                )
                .await?;
            let (users, n) = (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64);
            if users > 0 {
                // The compaction rewrites the table: the rows' bytes leave the files.
                super::erase::note(&*tx, "user_records", users, n).await?;
            }
            tracing::debug!(dataset = %t, records = n, seconds = started.elapsed().as_secs_f64(), "deleted");
            counts.per_dataset.push((t, n));
        }
    }
    let job = commit.job.succeeded(Some(counts.total()));
    jobs::write_final(&*tx, &job, &commit.lease).await?;
    crate::store::failpoint("purge-before-commit");
    let started = Instant::now();
    tx.commit().await?;
    counts.commit = started.elapsed();
    Ok((counts, job))
}

/// `user_records`' other columns sampled lightly: `ANALYZE`, which each bulk load runs for
/// [`plan`]'s row count, then reads 300 rows instead of 30,000 (W1: 3 ms against 110-700 ms).
pub(super) const MIGRATION_5: &str = "
ALTER TABLE user_records ALTER COLUMN dataset_id SET STATISTICS 1, ALTER COLUMN n SET STATISTICS 1;
";

/// How the purge joins the IDs with `user_records`: the deletes walk the table in key order,
/// the order a load wrote it in, so each page is changed once. A hash join's batches each
/// change pages all over the table, and a page changed again after a checkpoint goes to the
/// log whole again: at W3 that wrote 6.3 GB of log for a 2 GB table and took 26 s, against
/// 1.4 GB and 8.7 s in key order. (The key column keeps no statistics, see `erase`, so the
/// planner cannot tell.)
///
/// Many IDs against the table's rows (more than an eighth): one pass over the primary key
/// beside the sorted IDs, a merge join (W1's 45%: 2.1 s of deletes). Fewer: a probe of the
/// primary key per ID, in byte order, a nested loop (W1's 45% took 2.7 s this way; 1,000
/// users at W10 0.07 s, where a pass would read 10 million keys). The table's row count is
/// the server's estimate (`reltuples`, kept by `ANALYZE`, which each bulk load runs);
/// unknown, the probes.
pub(super) async fn plan(c: &impl GenericClient, ids: usize) -> DbResult<&'static str> {
    let rows: f32 = c
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'user_records'::regclass",
            &[],
        )
        .await?
        .get(0);
    Ok(if rows > 0.0 && ids as f32 * 8.0 > rows {
        "SET LOCAL enable_hashjoin = off; SET LOCAL enable_nestloop = off;
         SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
         SET LOCAL work_mem = '64MB'"
    } else {
        "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
    })
}
