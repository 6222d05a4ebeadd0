//! A notification storm through the callback's handler against a real DynamoDB (Local): many
//! payments, every notification of each (AUTHORIZED, CONFIRMED, RECEIPT, some refunds), a share
//! of them duplicated, all shuffled and sent by concurrent senders. A delivery not answered `OK`
//! goes back to the end of the queue, as the bank would deliver it again.
//!
//! Then every balance is checked to the kopeck, every ledger against its balance, every payment's
//! emails (one "payment received", one receipt) against a counting mail sender (no SES here: the
//! storm measures the callback and the store), and that no payment is left on the
//! reconciliation's list.
//!
//! ```text
//! make stack-up STACK=test && . scripts/env.sh test
//! cargo run --release -p benches --bin storm
//! ```
//! Knobs: `STORM_PAYMENTS` (2500), `STORM_SENDERS` (8), `STORM_DUPLICATES` (0.30, the share of
//! all deliveries that repeat another one), `STORM_SBP` (0.30, the share of payments made through
//! СБП: their notifications carry no card), `STORM_SEED`.

use benches::{counted_dynamodb_client, nearest_rank};
use chrono::{TimeDelta, Utc};
use energosbyt::acquirer::token;
use energosbyt::app::settlement::Settlement;
use energosbyt::config::Env;
use energosbyt::domain::account::TariffGroup;
use energosbyt::domain::address_mask::Address;
use energosbyt::domain::{
    Account, AccountNumber, Balance, Money, PayMethod, Payment, PaymentId, PaymentStatus, SellerRequisites,
};
use energosbyt::mail::{MailError, MailFrom, MailSender, Mailer, MessageId, OutgoingEmail};
use energosbyt::ports::ledger::{LedgerReader, Movement, PaymentLedger, PendingPayments};
use energosbyt::ports::{AccountImport, AccountReader, PaymentWriter};
use energosbyt::store::DynamoStore;
use lambda_http::Body;
use payment_callback::{App, handle};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counts every HTTP request the DynamoDB client sends (retries included).
/// Accepts every email and counts them per recipient: (payment received, receipts).
#[derive(Clone, Default)]
struct CountingMailbox(Arc<Mutex<HashMap<String, (u32, u32)>>>);

impl MailSender for CountingMailbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<MessageId, MailError> {
        let raw = String::from_utf8_lossy(&email.raw_mime);
        let mut counts = self.0.lock().expect("mailbox lock");
        let entry = counts.entry(email.to.clone()).or_default();
        if raw.contains("<payment-received.") {
            entry.0 += 1;
        } else if raw.contains("<receipt.") {
            entry.1 += 1;
        }
        Ok(MessageId(format!("storm-{}", entry.0 + entry.1)))
    }
}

struct Planned {
    account: AccountNumber,
    payment: Payment,
    initial: Money,
    refunded: Money,
    status: PaymentStatus,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let payments: usize = env_or("STORM_PAYMENTS", 2500);
    let senders: usize = env_or("STORM_SENDERS", 8);
    let duplicate_share: f64 = env_or("STORM_DUPLICATES", 0.30);
    let sbp_share: f64 = env_or("STORM_SBP", 0.30);
    let mut draw = fastrand::Rng::with_seed(env_or("STORM_SEED", Utc::now().timestamp_micros() as u64));

    let env = Env::process();
    let (client, requests) = counted_dynamodb_client().await;
    let store = DynamoStore::new(client, env.string("TABLE_NAME")?);
    // What the callback verifies with: the secret, as the function reads it.
    let secrets = energosbyt::secrets::Secrets::from_env(&env).await?;
    let terminal = secrets.current().tbank_terminal_key.clone();
    let password = secrets.current().tbank_password.expose().to_owned();

    // The customers and their NEW payments.
    eprintln!("setting up {payments} accounts and payments…");
    let run = uuid::Uuid::new_v4().as_u128();
    let mut plan = Vec::with_capacity(payments);
    for i in 0..payments {
        let number: AccountNumber = format!("{:010}", (run + i as u128) % 10_000_000_000).parse()?;
        let amount = Money::from_kopecks(draw.i64(10_000..1_000_000));
        let initial = Money::from_kopecks(draw.i64(-500_000..100_000));
        let (refunded, status) = match i % 10 {
            0 => (amount, PaymentStatus::Refunded),
            1 | 2 => (Money::from_kopecks(amount.kopecks() * 3 / 10), PaymentStatus::PartiallyRefunded),
            _ => (Money::ZERO, PaymentStatus::Paid),
        };
        let now = Utc::now();
        let payment = Payment {
            id: PaymentId::random(),
            account: number,
            amount,
            email: Some(format!("storm-{i}-{:x}@example.ru", run & 0xffff_ffff).parse().unwrap()),
            caller: "vk:1".parse().unwrap(),
            readings_id: None,
            status: PaymentStatus::New,
            acquirer_payment_id: Some((6_000_000_000u64 + i as u64).to_string()),
            payment_url: None,
            form_deadline: None,
            refunded: Money::ZERO,
            card: None,
            method: if draw.f64() < sbp_share { PayMethod::Sbp } else { PayMethod::Card },
            created_at: now,
            updated_at: now,
        };
        plan.push(Planned { account: number, payment, initial, refunded, status });
    }
    let plan = Arc::new(plan);
    let setup: Vec<_> = (0..senders)
        .map(|s| {
            let (store, plan) = (store.clone(), Arc::clone(&plan));
            tokio::spawn(async move {
                for p in plan.iter().skip(s).step_by(senders) {
                    let account = Account {
                        number: p.account,
                        address: Address {
                            town: "г. Москва".into(),
                            street: Some("ул. Тверская".into()),
                            house: "д. 7".into(),
                            flat: Some("1".into()),
                        },
                        balance: Balance::new(p.initial),
                        tariff_group: TariffGroup("gas-stove".into()),
                        meters: vec![],
                    };
                    store.import_account(&account, Utc::now()).await.expect("account written");
                    store.create(&p.payment).await.expect("payment written");
                }
            })
        })
        .collect();
    for writer in setup {
        writer.await?;
    }

    // Every notification of every payment, signed as the bank signs them.
    let sign = |mut body: Value| -> String {
        let token = token::sign_json(&body.to_string(), &password).expect("a JSON object");
        body["Token"] = Value::String(token);
        body.to_string()
    };
    let mut unique = Vec::new();
    for p in plan.iter() {
        let kopecks = p.payment.amount.kopecks();
        let pid: u64 = p.payment.acquirer_payment_id.as_deref().unwrap_or("0").parse()?;
        let status = |status: &str, amount: i64| {
            let mut body = json!({"TerminalKey": terminal, "OrderId": p.payment.id.as_str(), "Success": true,
                   "Status": status, "PaymentId": pid, "ErrorCode": "0", "Amount": amount});
            if p.payment.method == PayMethod::Card {
                body["CardId"] = json!(1);
                body["Pan"] = json!("220138******0013");
                body["ExpDate"] = json!("1130");
            }
            body
        };
        unique.push(sign(status("AUTHORIZED", kopecks)));
        unique.push(sign(status("CONFIRMED", kopecks)));
        unique.push(sign(json!({
            "TerminalKey": terminal, "OrderId": p.payment.id.as_str(), "Success": true, "Status": "RECEIPT",
            "PaymentId": pid, "ErrorCode": "0", "Amount": kopecks, "FiscalNumber": 1, "ShiftNumber": 1,
            "ReceiptDatetime": "2026-11-20T15:21:05+03:00", "FnNumber": "9282000100072197",
            "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 1 + pid % 1_000_000,
            "FiscalDocumentAttribute": 2918241905u64, "Type": "Income", "Ofd": "ООО «Такском»",
            "SettlePlace": "https://vk.com/app51234567"
        })));
        if p.status != PaymentStatus::Paid {
            unique.push(sign(status("PARTIAL_REFUNDED", kopecks * 3 / 10)));
        }
        if p.status == PaymentStatus::Refunded {
            unique.push(sign(status("REFUNDED", kopecks)));
        }
    }
    let duplicates = (unique.len() as f64 * duplicate_share / (1.0 - duplicate_share)).round() as usize;
    let mut queue: Vec<String> = unique.clone();
    queue.extend((0..duplicates).map(|_| unique[draw.usize(..unique.len())].clone()));
    draw.shuffle(&mut queue);
    let deliveries = queue.len();

    let mailbox = CountingMailbox::default();
    let seller = SellerRequisites::from_env(&env)?;
    let mailer = Mailer::new(mailbox.clone(), MailFrom::from_env(&env)?);
    let app = Arc::new(App { settlement: Settlement::new(store.clone(), mailer, seller), secrets });

    eprintln!("storm: {deliveries} deliveries ({} unique, {duplicates} duplicates), {senders} senders…", unique.len());
    let queue = Arc::new(Mutex::new(VecDeque::from(queue)));
    let redeliveries = Arc::new(AtomicU64::new(0));
    requests.take();
    let started = Instant::now();
    let sending: Vec<_> = (0..senders)
        .map(|_| {
            let (app, queue, redeliveries) = (Arc::clone(&app), Arc::clone(&queue), Arc::clone(&redeliveries));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(body) = queue.lock().expect("queue lock").pop_front() else {
                        return latencies;
                    };
                    let request = http::Request::builder()
                        .method("POST")
                        .uri("/callbacks/tbank")
                        .header("content-type", "application/json")
                        .body(Body::Text(body.clone()))
                        .expect("a request");
                    let sent = Instant::now();
                    let response = handle(&app, request).await;
                    latencies.push(sent.elapsed());
                    let ok = response.status() == 200 && matches!(response.body(), Body::Text(t) if t == "OK");
                    if !ok {
                        // As the bank does: deliver it again later.
                        redeliveries.fetch_add(1, Ordering::Relaxed);
                        queue.lock().expect("queue lock").push_back(body);
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(deliveries);
    for sender in sending {
        latencies.extend(sender.await?);
    }
    let elapsed = started.elapsed();
    let by_operation = requests.take_by_operation();
    let storm_requests: u64 = by_operation.values().sum();
    latencies.sort();

    // Every balance to the kopeck, every ledger against it, every payment's emails.
    eprintln!("verifying…");
    let mut wrong = Vec::new();
    let mailbox = mailbox.0.lock().expect("mailbox lock").clone();
    let mut ledger_entries = 0usize;
    for p in plan.iter() {
        let expected = p.initial + p.payment.amount - p.refunded;
        let balance = store.account(&p.account).await?.map(|a| a.balance.signed());
        if balance != Some(expected) {
            wrong.push(format!("{}: balance {balance:?}, expected {expected}", p.payment.id));
        }
        let ledger = store.ledger_entries(&p.account).await?;
        ledger_entries += ledger.len();
        let moved: Money = ledger.iter().map(|e| e.amount).sum();
        let credits = ledger.iter().filter(|e| e.movement == Movement::Credit).count();
        let last_refund = ledger
            .iter()
            .filter_map(|e| match e.movement {
                Movement::Refund { total_refunded } => Some(total_refunded),
                Movement::Credit => None,
            })
            .max()
            .unwrap_or(Money::ZERO);
        if moved != p.payment.amount - p.refunded || credits != 1 || last_refund != p.refunded {
            wrong.push(format!("{}: ledger {ledger:?}", p.payment.id));
        }
        let record = store
            .payment_record(&p.payment.id)
            .await?
            .map(|r| (r.payment.status, r.payment.refunded, r.payment.method, r.payment.card.is_some()));
        let by_card = p.payment.method == PayMethod::Card;
        if record != Some((p.status, p.refunded, p.payment.method, by_card)) {
            wrong.push(format!("{}: payment {record:?}, expected {:?}", p.payment.id, (p.status, p.refunded)));
        }
        if mailbox.get(p.payment.email_address()).copied() != Some((1, 1)) {
            wrong.push(format!("{}: emails {:?}", p.payment.id, mailbox.get(p.payment.email_address())));
        }
    }

    // Every payment is settled and mailed: none may stay on the reconciliation's list.
    let stormed: HashSet<&PaymentId> = plan.iter().map(|p| &p.payment.id).collect();
    let mut still_listed = 0usize;
    let mut cursor = None;
    loop {
        let page = store.pending_payments(Utc::now() + TimeDelta::days(1), cursor.as_ref(), 100).await?;
        for listed in page.payments.iter().filter(|listed| stormed.contains(&listed.id)) {
            still_listed += 1;
            wrong.push(format!("{}: still listed as pending", listed.id));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    let sent = deliveries as u64 + redeliveries.load(Ordering::Relaxed);
    println!(
        "payments                 {payments} ({} through СБП)",
        plan.iter().filter(|p| p.payment.method == PayMethod::Sbp).count()
    );
    println!(
        "deliveries               {deliveries} ({} unique, {duplicates} duplicates = {:.0} %)",
        unique.len(),
        100.0 * duplicates as f64 / deliveries as f64
    );
    println!(
        "re-deliveries            {} (refunds that overtook their credit, answered 503)",
        redeliveries.load(Ordering::Relaxed)
    );
    println!("senders                  {senders}");
    println!("elapsed                  {:.2} s", elapsed.as_secs_f64());
    println!("throughput               {:.0} notifications/s", sent as f64 / elapsed.as_secs_f64());
    println!(
        "answer time p50 / p99    {:.1} ms / {:.1} ms (max {:.1} ms)",
        nearest_rank(&latencies, 0.50).unwrap_or_default().as_secs_f64() * 1e3,
        nearest_rank(&latencies, 0.99).unwrap_or_default().as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!("DynamoDB requests        {storm_requests} ({:.2} per notification)", storm_requests as f64 / sent as f64);
    for (operation, count) in &by_operation {
        println!("  {operation:<22} {count} ({:.2} per notification)", *count as f64 / sent as f64);
    }
    println!("still listed as pending  {still_listed}");
    println!("ledger entries           {ledger_entries}");
    println!(
        "emails                   {} payment received, {} receipts (counting sender)",
        mailbox.values().map(|c| c.0).sum::<u32>(),
        mailbox.values().map(|c| c.1).sum::<u32>()
    );
    if wrong.is_empty() {
        println!(
            "verified                 every balance exact to the kopeck, one ledger entry per movement, one email of each kind per payment, none left listed"
        );
        Ok(())
    } else {
        for w in wrong.iter().take(20) {
            eprintln!("WRONG {w}");
        }
        Err(format!("{} discrepancies", wrong.len()).into())
    }
}
