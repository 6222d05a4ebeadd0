//! The chunk import: an S3 `ObjectCreated` event names a chunk of the month's billing export (JSON
//! Lines with its own `exportedAt` line); the chunk is read and imported with the operator's own
//! import code (`admin::account_import`). A store failure fails the invocation, which Lambda
//! retries and then hands to the failure queue; a rerun skips what the failed try wrote. A
//! malformed record is logged by its line and counted, never retried: no retry would mend it.

use admin::account_import::{self, Malformed, Observer, Progress};
use energosbyt::config::{ConfigError, Env};
use energosbyt::metrics::{self, Metric};
use energosbyt::outside_calls;
use energosbyt::store::DynamoStore;
use serde::Deserialize;
use std::io::Cursor;

/// Batches of 100 accounts in flight per invocation: a chunk's writes spread over the table's
/// partitions, and the functions running at once multiply it (the template's reserved
/// concurrency caps them).
const CONCURRENCY: usize = 8;

pub struct Importer {
    pub store: DynamoStore,
    pub s3: aws_sdk_s3::Client,
}

/// `TABLE_NAME` and the SDK's environment, loaded once for both clients.
pub async fn from_env() -> Result<Importer, ConfigError> {
    let env = Env::process();
    let table = env.string("TABLE_NAME")?;
    let shared = outside_calls::sdk_config().await;
    // A local stand-in (AWS_ENDPOINT_URL_S3) has no per-bucket host names: paths name the bucket.
    let local = env.string("AWS_ENDPOINT_URL_S3").is_ok();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&shared).force_path_style(local).build());
    Ok(Importer { store: DynamoStore::from_sdk_config(&shared, table), s3 })
}

/// The part of an S3 event notification this function reads.
#[derive(Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3Record>,
}

#[derive(Deserialize)]
pub struct S3Record {
    pub s3: S3Entity,
}

#[derive(Deserialize)]
pub struct S3Entity {
    pub bucket: Named,
    pub object: Key,
}

#[derive(Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Deserialize)]
pub struct Key {
    pub key: String,
}

/// What one chunk's import did.
#[derive(Debug, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChunkSummary {
    pub key: String,
    pub written: usize,
    pub already_current: usize,
    pub malformed: usize,
}

impl Importer {
    /// Imports every chunk the event names, in order; the first failure fails the whole event
    /// (chunks already done are skipped by the retry).
    pub async fn handle(&self, event: S3Event) -> Result<Vec<ChunkSummary>, String> {
        let mut done = Vec::new();
        for record in event.records {
            let key = decode_key(&record.s3.object.key);
            done.push(self.import_chunk(&record.s3.bucket.name, &key).await?);
        }
        Ok(done)
    }

    pub async fn import_chunk(&self, bucket: &str, key: &str) -> Result<ChunkSummary, String> {
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        // A chunk is a few megabytes by design (docs/deploy.md): read whole, then streamed through
        // the same parser as a file.
        let body = object.body.collect().await.map_err(|e| format!("{key}: {e}"))?.into_bytes();
        let mut observer = Logged { key: key.to_owned() };
        let imported = account_import::import(&self.store, Cursor::new(body), CONCURRENCY, &mut observer)
            .await
            .map_err(|e| format!("{key}: {e}"))?;
        let p = imported.progress;
        if p.malformed > 0 {
            metrics::count(Metric::ImportRecordsRefused, p.malformed as u64);
        }
        tracing::info!(
            key,
            written = p.written,
            already_current = p.already_current,
            malformed = p.malformed,
            exported_at = %imported.exported_at,
            "chunk imported"
        );
        Ok(ChunkSummary {
            key: key.to_owned(),
            written: p.written,
            already_current: p.already_current,
            malformed: p.malformed,
        })
    }
}

/// S3 event keys are URL-encoded, spaces as `+`.
fn decode_key(key: &str) -> String {
    form_urlencoded::parse(format!("k={key}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

struct Logged {
    key: String,
}

impl Observer for Logged {
    fn malformed(&mut self, malformed: &Malformed) {
        // The message names at most the masked account number.
        tracing::warn!(key = %self.key, line = malformed.line, reason = %malformed.message, "export record refused");
    }

    fn progress(&mut self, _: &Progress) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_event_key_with_escapes_when_decoded_then_it_is_the_object_key() {
        assert_eq!(decode_key("exports/2026-11/chunk+0001%2B.jsonl"), "exports/2026-11/chunk 0001+.jsonl");
    }
}
