//! The billing export import: idempotent, and an older export never overwrites a newer one.

use admin::billing_export;
use chrono::Duration;
use energosbyt::ports::{AccountImport, AccountReader, ImportOutcome};
use integration_tests::*;

#[tokio::test]
async fn the_same_export_twice_changes_nothing_and_an_older_one_is_ignored() {
    let store = store().await;
    let number = fresh_account_number();
    let first = account(number, "-100.00", vec![]);

    assert_eq!(store.import_account(&first, fixed_now()).await.unwrap(), ImportOutcome::Written);
    assert_eq!(store.import_account(&first, fixed_now()).await.unwrap(), ImportOutcome::AlreadyCurrent);

    let older = account(number, "-999.00", vec![]);
    let outcome = store.import_account(&older, fixed_now() - Duration::days(30)).await.unwrap();
    assert_eq!(outcome, ImportOutcome::AlreadyCurrent);
    assert_eq!(store.account(&number).await.unwrap().unwrap().balance.signed().to_string(), "-100.00");

    let newer = account(number, "0.00", vec![]);
    let outcome = store.import_account(&newer, fixed_now() + Duration::days(30)).await.unwrap();
    assert_eq!(outcome, ImportOutcome::Written);
    assert_eq!(store.account(&number).await.unwrap().unwrap().balance.signed().to_string(), "0.00");
}

#[tokio::test]
async fn the_demo_export_round_trips_through_the_store() {
    let store = store().await;
    let export = billing_export::parse(include_str!("../../data/demo.json")).unwrap();
    for account in &export.accounts {
        store.import_account(account, export.exported_at).await.unwrap();
        let read = store.account(&account.number).await.unwrap().expect("imported");
        assert_eq!(&read, account);
    }
}
