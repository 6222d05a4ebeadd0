//! The AWS path of the month's export: split into chunks, each put into S3 (moto) and imported by
//! the chunk-import function from its S3 event, with the operator's own import code. Money
//! credited after the export survives, a malformed line is reported and skipped, and the
//! function run again on the same chunks writes nothing.

use admin::export_chunks;
use chrono::Duration;
use energosbyt::domain::payment_transition::Transition;
use energosbyt::ports::ledger::{BankFacts, PaymentLedger, ReportedStatus};
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use import_accounts::{ChunkSummary, S3Event};
use integration_tests::*;
use serde_json::json;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// A chunk written in memory, to be put into the bucket.
#[derive(Clone, Default)]
struct Chunk(Rc<RefCell<Vec<u8>>>);

impl Write for Chunk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn event(bucket: &str, key: &str) -> S3Event {
    // The key as S3 sends it: URL-encoded.
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    serde_json::from_value(json!({"Records": [{"s3": {"bucket": {"name": bucket}, "object": {"key": encoded}}}]}))
        .unwrap()
}

#[tokio::test]
async fn given_a_chunked_export_in_s3_when_each_chunk_is_imported_then_every_account_is_in_with_later_credits_kept_and_a_rerun_writes_nothing()
 {
    let importer = import_accounts::from_env().await.expect("TABLE_NAME and the stand-ins (make stack-up)");
    let bucket = env("IMPORT_BUCKET");
    let store = store().await;
    let exported_at = fixed_now() - Duration::days(19);

    // Given an account already imported from last month's export, and a payment of 500.00
    // credited a day after this month's export was taken (the export does not know of it).
    let paid = fresh_account_number();
    store.import_account(&account(paid, "-900.00", vec![]), exported_at - Duration::days(30)).await.unwrap();
    let credited_at = exported_at + Duration::days(1);
    let mut payment = new_payment(paid, "500.00", credited_at);
    payment.acquirer_payment_id = Some("9001".into());
    store.create(&payment).await.unwrap();
    let read = store.payment_record(&payment.id).await.unwrap().unwrap();
    let facts = BankFacts {
        status: ReportedStatus::Bank(energosbyt::acquirer::PaymentStatus::parse("CONFIRMED")),
        acquirer_payment_id: Some("9001".into()),
        card: None,
        error_code: None,
        at: credited_at,
    };
    store
        .apply_transition(&read, &Transition::Credit { amount: payment.amount, anomaly: None }, &facts, &[])
        .await
        .unwrap();

    // And this month's export of 250 accounts (the paid one among them, billed −600.00) with one
    // malformed line, split into chunks of 100 and put under chunks/.
    let numbers: Vec<_> = (0..249).map(|_| fresh_account_number()).chain([paid]).collect();
    let mut lines = vec![json!({"exportedAt": exported_at.to_rfc3339()}).to_string()];
    for (i, number) in numbers.iter().enumerate() {
        let balance = if *number == paid { "-600.00".to_owned() } else { format!("-{i}.50") };
        lines.push(
            json!({"account": number.to_string(), "address": {"town": "г. Москва", "house": "д. 1"},
                   "balance": balance, "tariffGroup": "gas-stove"})
            .to_string(),
        );
        if i == 120 {
            lines.push(r#"{"account": "1000000001", "address": {"town": "г. Москва", "house": "д. 1"}, "balance": "0", "tariffGroup": "gas-stove", "holder": "Иванов"}"#.to_owned());
        }
    }
    let mut chunks = Vec::new();
    let count = export_chunks::split(format!("{}\n", lines.join("\n")).as_bytes(), 100, |_| {
        let chunk = Chunk::default();
        chunks.push(chunk.clone());
        Ok(chunk)
    })
    .unwrap();
    assert_eq!(count, 3, "251 account lines by 100");
    let prefix = format!("chunks/{}", uuid::Uuid::new_v4());
    let mut keys = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let key = format!("{prefix}/chunk {:05}.jsonl", i + 1);
        let body = chunk.0.borrow().clone();
        importer.s3.put_object().bucket(&bucket).key(&key).body(body.into()).send().await.unwrap();
        keys.push(key);
    }

    // When the function receives each chunk's S3 event.
    let mut first = Vec::new();
    for key in &keys {
        first.extend(importer.handle(event(&bucket, key)).await.unwrap());
    }

    // Then every well-formed account is written, the malformed line reported in its chunk, and
    // the credit made after the export is on top of the billed balance.
    let total = |done: &[ChunkSummary]| {
        done.iter().fold((0, 0, 0), |(w, c, m), s| (w + s.written, c + s.already_current, m + s.malformed))
    };
    assert_eq!(total(&first), (250, 0, 1));
    assert_eq!(first[1].malformed, 1, "the line after the 120th account is in the second chunk");
    let balance = |number| {
        let store = store.clone();
        async move { store.account(&number).await.unwrap().expect("imported").balance.signed().to_string() }
    };
    assert_eq!(balance(paid).await, "-100.00", "billed −600.00, plus 500.00 credited after the export");
    assert_eq!(balance(numbers[7]).await, "-7.50");
    assert_eq!(balance(numbers[248]).await, "-248.50");

    // And the same events again (Lambda's retry, an operator's re-drive) write nothing.
    let before = importer.store.outside_calls().requests();
    let mut again = Vec::new();
    for key in &keys {
        again.extend(importer.handle(event(&bucket, key)).await.unwrap());
    }
    assert_eq!(total(&again), (0, 250, 1));
    assert_eq!(importer.store.outside_calls().requests() - before, 3, "one BatchGetItem per chunk of 100");
    assert_eq!(balance(paid).await, "-100.00");
}
