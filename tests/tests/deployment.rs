//! What a deployment gives the functions that settle payments and send receipts, read from
//! `template.yaml` and `local.env` as they are committed: the seller's name on every receipt, the
//! requisites a receipt email falls back on when the bank's notification leaves them out, and the
//! alarms an operator relies on. A wrong value here reaches every customer, so it is tested.

use serde_norway::Value;

const TEMPLATE: &str = include_str!("../../template.yaml");
const LOCAL_ENV: &str = include_str!("../../local.env");

/// The seller as the company's registration records (INN 7736520080) name it.
const SELLER: &str = "АО «Мосэнергосбыт»";

fn template() -> Value {
    serde_norway::from_str(TEMPLATE).expect("template.yaml is YAML")
}

/// `NAME='value'` lines of `local.env`.
fn local_env(name: &str) -> Option<String> {
    LOCAL_ENV.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        Some(value.trim().trim_matches('\'').to_owned())
    })
}

/// A function's environment variable as the template writes it (tags such as `!Ref` kept).
fn variable<'a>(template: &'a Value, function: &str, name: &str) -> Option<&'a Value> {
    template["Resources"][function]["Properties"]["Environment"]["Variables"].get(name)
}

/// The tag and its value, for a value written as `!Ref X` or `!If [...]`.
fn tagged(value: &Value) -> (String, &Value) {
    match value {
        Value::Tagged(tagged) => (tagged.tag.to_string(), &tagged.value),
        other => panic!("expected a tagged value, found {other:?}"),
    }
}

#[test]
fn given_the_committed_configuration_then_receipts_name_the_seller_as_registered() {
    let template = template();
    assert_eq!(template["Parameters"]["SellerName"]["Default"].as_str(), Some(SELLER));
    assert_eq!(local_env("SELLER_NAME").as_deref(), Some(SELLER));
    assert_eq!(local_env("SELLER_INN").as_deref(), Some("7736520080"));
}

#[test]
fn given_a_deployment_then_both_functions_that_send_receipts_have_a_place_of_settlement_and_an_ofd() {
    let template = template();
    for function in ["PaymentCallbackFunction", "ReconcilePaymentsFunction"] {
        let place = variable(&template, function, "SETTLEMENT_PLACE").unwrap_or_else(|| panic!("{function}"));
        let (tag, choice) = tagged(place);
        assert_eq!(tag, "!If", "{function}: the parameter, else the mini app's page");
        let choice = choice.as_sequence().expect("[condition, then, else]");
        assert_eq!(choice[0].as_str(), Some("WithSettlementPlace"));
        assert_eq!(tagged(&choice[1]), ("!Ref".to_owned(), &Value::String("SettlementPlace".into())));
        let (sub, web_url) = tagged(&choice[2]);
        assert_eq!(sub, "!Sub");
        assert_eq!(web_url, tagged(&template["Outputs"]["WebUrl"]["Value"]).1, "the WebUrl output");

        let ofd = variable(&template, function, "OFD_NAME").unwrap_or_else(|| panic!("{function}"));
        assert_eq!(tagged(ofd), ("!Ref".to_owned(), &Value::String("OfdName".into())));
    }
    assert_eq!(template["Parameters"]["SettlementPlace"]["Default"].as_str(), Some(""));
    let ofd_default = template["Parameters"]["OfdName"]["Default"].as_str().expect("a default OFD");
    assert!(!ofd_default.trim().is_empty());
    for name in ["SETTLEMENT_PLACE", "OFD_NAME"] {
        assert!(local_env(name).is_some_and(|v| !v.is_empty()), "local.env has a demo {name}");
    }
}

#[test]
fn given_a_deployment_then_payments_sent_for_review_and_receipts_that_cannot_be_composed_raise_alarms() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let alarmed: Vec<(String, String)> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .filter(|r| r["Properties"]["Namespace"].as_str() == Some("Energosbyt"))
        .map(|r| {
            let metric = r["Properties"]["MetricName"].as_str().unwrap_or_default().to_owned();
            let (_, function) = tagged(&r["Properties"]["Dimensions"][0]["Value"]);
            (metric, function.as_str().unwrap_or_default().to_owned())
        })
        .collect();
    for expected in [
        ("PaymentsNeedingReview", "ReconcilePaymentsFunction"),
        ("ReceiptsUnrendered", "PaymentCallbackFunction"),
        ("ReceiptsUnrendered", "ReconcilePaymentsFunction"),
    ] {
        assert!(
            alarmed.iter().any(|(m, f)| (m.as_str(), f.as_str()) == expected),
            "no alarm on {expected:?}: {alarmed:?}"
        );
    }
    for metric in [energosbyt::metrics::Metric::PaymentsNeedingReview, energosbyt::metrics::Metric::ReceiptsUnrendered]
    {
        assert!(alarmed.iter().any(|(m, _)| m == metric.name()), "the alarm watches what the code emits");
    }
}
