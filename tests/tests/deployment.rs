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

const CARGO_TOML: &str = include_str!("../../Cargo.toml");
const DEPLOY_GUIDE: &str = include_str!("../../docs/deploy.md");

/// Every `AWS::Serverless::Function` of the template, by logical id.
fn functions(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// Every `AWS::CloudWatch::Alarm` on a metric of the service: (logical id, metric, function).
fn business_alarms(template: &Value) -> Vec<(String, String, String)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .filter(|(_, r)| r["Properties"]["Namespace"].as_str() == Some("Energosbyt"))
        .map(|(id, r)| {
            let metric = r["Properties"]["MetricName"].as_str().unwrap_or_default().to_owned();
            let (_, function) = tagged(&r["Properties"]["Dimensions"][0]["Value"]);
            (id.as_str().unwrap_or_default().to_owned(), metric, function.as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn given_a_deployment_then_every_failure_that_must_page_someone_has_an_alarm_on_the_topic() {
    use energosbyt::metrics::Metric;
    let template = template();
    let alarms = business_alarms(&template);
    for (metric, function) in [
        (Metric::NotificationsRefused, "PaymentCallbackFunction"),
        (Metric::AcquirerCredentialsRefused, "PayFunction"),
        (Metric::AcquirerCredentialsRefused, "ReconcilePaymentsFunction"),
        (Metric::ReconciliationErrors, "ReconcilePaymentsFunction"),
        (Metric::UnmappedStatuses, "PaymentCallbackFunction"),
        (Metric::UnmappedStatuses, "ReconcilePaymentsFunction"),
        (Metric::EmailsUndelivered, "PaymentCallbackFunction"),
        (Metric::EmailsUndelivered, "ReconcilePaymentsFunction"),
    ] {
        let Some((id, ..)) = alarms.iter().find(|(_, m, f)| m == metric.name() && f == function) else {
            panic!("no alarm on {} of {function}: {alarms:?}", metric.name());
        };
        let actions = &template["Resources"][id.as_str()]["Properties"]["AlarmActions"];
        let (tag, choice) = tagged(actions);
        assert_eq!(tag, "!If", "{id}");
        assert_eq!(choice[0].as_str(), Some("WithAlarmTopic"), "{id} notifies the alarm topic");
    }
}

#[test]
fn given_the_deploy_guide_then_it_explains_every_alarm_of_the_template() {
    let template = template();
    let functions: Vec<String> = functions(&template).into_iter().map(|(id, _)| id).collect();
    let alarms = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, _)| id.as_str().unwrap_or_default().to_owned());
    for alarm in alarms {
        // By name, or for alarms every function has, as `<Function>…` / `…Suffix`.
        let suffix = functions
            .iter()
            .filter_map(|f| alarm.strip_prefix(f.trim_end_matches("Function")))
            .min_by_key(|suffix| suffix.len())
            .unwrap_or(alarm.as_str());
        let explained = DEPLOY_GUIDE.contains(&format!("`{alarm}`"))
            || DEPLOY_GUIDE.contains(&format!("`…{suffix}`"))
            || DEPLOY_GUIDE.contains(&format!("`<Function>{suffix}`"));
        assert!(explained, "docs/deploy.md does not explain {alarm}");
    }
}

#[test]
fn given_a_deployment_then_no_function_holds_a_secret_and_each_reads_only_the_one_secret() {
    let template = template();
    assert!(!TEMPLATE.contains("resolve:secretsmanager"), "secrets are read at run time, never resolved at deploy");
    let secret_names = ["VK_APP_SECRET", "FB_APP_SECRET", "TBANK_TERMINAL_KEY", "TBANK_PASSWORD"];
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(tagged(&globals["SECRETS_NAME"]), ("!Ref".to_owned(), &Value::String("SecretsName".into())));
    for (id, function) in functions(&template) {
        let variables = function["Properties"]["Environment"]["Variables"].as_mapping();
        for name in secret_names {
            assert!(variables.is_none_or(|v| !v.contains_key(name)), "{id} carries {name}");
            assert!(globals.get(name).is_none());
        }
        let statements = function["Properties"]["Policies"][0]["Statement"].as_sequence().expect("a policy");
        let reads: Vec<&Value> =
            statements.iter().filter(|s| s["Action"].as_str() == Some("secretsmanager:GetSecretValue")).collect();
        // The chunk import talks to S3 and DynamoDB only: no secret at all.
        let reads_none = id == "ImportAccountsFunction";
        assert_eq!(reads.len(), usize::from(!reads_none), "{id} reads the secret once, or (the import) never");
        if let Some(read) = reads.first() {
            let (tag, arn) = tagged(&read["Resource"]);
            assert_eq!(tag, "!Sub");
            assert!(arn.as_str().is_some_and(|a| a.ends_with(":secret:${SecretsName}-??????")), "{id}: {arn:?}");
        }
        // Actions no function uses: the mail adapter sends raw MIME only; no transaction checks a
        // condition on an item it does not write.
        let actions: Vec<&str> = statements
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(one) => vec![one.as_str()],
                Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            })
            .collect();
        for unused in ["ses:SendEmail", "dynamodb:ConditionCheckItem", "dynamodb:Scan", "secretsmanager:*"] {
            assert!(!actions.contains(&unused), "{id} is granted {unused}");
        }
    }
}

/// `(path, method)` of every HTTP API route of the template, with its function.
fn deployed_routes(template: &Value) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (id, function) in functions(template) {
        for event in function["Properties"]["Events"].as_mapping().into_iter().flat_map(|e| e.values()) {
            if event["Type"].as_str() == Some("HttpApi") {
                let path = event["Properties"]["Path"].as_str().unwrap_or_default().to_owned();
                let method = event["Properties"]["Method"].as_str().unwrap_or_default().to_ascii_uppercase();
                routes.push((path, method, id.clone()));
            }
        }
    }
    routes.sort();
    routes
}

#[test]
fn given_a_deployment_then_cors_is_answered_by_the_functions_as_locally() {
    let template = template();
    assert!(
        template["Resources"]["HttpApi"]["Properties"].get("CorsConfiguration").is_none(),
        "API Gateway's CORS would answer preflights itself and drop the functions' headers"
    );
    let routes = deployed_routes(&template);
    for (path, method, function) in &routes {
        if path.starts_with("/accounts/") || path.starts_with("/payments") {
            // Where two functions share a path, one answers its preflight for both (the contract
            // test checks it names both methods).
            let answered_by = match path.as_str() {
                "/payments" => "PayFunction",
                "/payments/{id}/receipt" => "PaymentReceiptFunction",
                _ => function.as_str(),
            };
            assert!(
                routes.iter().any(|(p, m, f)| p == path && m == "OPTIONS" && f == answered_by),
                "{method} {path}: its preflight does not reach {answered_by}"
            );
        }
    }
    let parameter = template["Parameters"]["AllowedOrigins"]["Description"].as_str().unwrap_or_default();
    assert!(parameter.contains("*.pages.vk-apps.com"), "{parameter}");
}

#[test]
fn given_a_deployment_then_it_routes_exactly_what_the_local_router_routes() {
    let cargo: toml::Table = CARGO_TOML.parse().expect("Cargo.toml is TOML");
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("the router table");
    let mut local: Vec<(String, String)> = router
        .iter()
        .flat_map(|(path, targets)| {
            targets
                .as_array()
                .expect("targets")
                .iter()
                .map(move |t| (path.clone(), t["method"].as_str().expect("a method").to_ascii_uppercase()))
        })
        .collect();
    local.sort();
    let mut deployed: Vec<(String, String)> =
        deployed_routes(&template()).into_iter().map(|(path, method, _)| (path, method)).collect();
    deployed.sort();
    assert_eq!(deployed, local, "GET /facebook/tab and every OPTIONS included");
}

/// Starving the bank's notifications can only be shown in AWS (the stage's route throttles are API
/// Gateway's); what decides it is in the template, so it is checked here: the callback route has a
/// throttle of its own, not the mini-app routes' default, and its function keeps concurrency no
/// mini-app flood can take.
#[test]
fn given_a_flood_on_the_mini_app_routes_then_the_banks_route_keeps_a_throttle_and_concurrency_of_its_own() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let own = &api["RouteSettings"]["POST /callbacks/tbank"];
    let default = &api["DefaultRouteSettings"];
    for limit in ["ThrottlingBurstLimit", "ThrottlingRateLimit"] {
        let (tag, parameter) = tagged(&own[limit]);
        assert_eq!(tag, "!Ref", "{limit}");
        let parameter = parameter.as_str().expect("a parameter name");
        assert_ne!(Some(parameter), tagged(&default[limit]).1.as_str(), "{limit}: not the mini-app routes' default");
        assert!(template["Parameters"][parameter]["Default"].as_u64().is_some_and(|n| n > 0), "{parameter}");
    }
    let reserved = &template["Resources"]["PaymentCallbackFunction"]["Properties"]["ReservedConcurrentExecutions"];
    assert!(reserved.as_u64().is_some_and(|n| n > 0), "the callback reserves concurrency: {reserved:?}");
}

#[test]
fn given_a_deployment_then_launch_data_older_than_vks_hour_is_never_accepted() {
    let template = template();
    let parameter = &template["Parameters"]["AuthMaxAgeSecs"];
    let (min, max) = (parameter["MinValue"].as_u64(), parameter["MaxValue"].as_u64());
    assert!(max.is_some_and(|max| max <= 3600), "VK's launch parameters live an hour: {max:?}");
    assert!(min.is_some_and(|min| min > 0), "0 would switch the freshness check off: {min:?}");
    let default = parameter["Default"].as_u64().expect("a default");
    assert!((min.unwrap()..=max.unwrap()).contains(&default), "{default}");
    let local: u64 = local_env("AUTH_MAX_AGE_SECS").expect("local.env sets it").parse().unwrap();
    assert!(local <= 3600, "{local}");
    let (tag, name) = tagged(&template["Globals"]["Function"]["Environment"]["Variables"]["AUTH_MAX_AGE_SECS"]);
    assert_eq!((tag.as_str(), name.as_str()), ("!Ref", Some("AuthMaxAgeSecs")), "every function reads the parameter");
}
