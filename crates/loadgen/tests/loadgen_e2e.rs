//! The load generator against the embedded mesh (`mandi-server --target=all`): every
//! operation of the mix runs, through the binary a user runs, and nothing answers
//! INTERNAL.

use std::process::Command;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::ListProductsRequest;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::mesh::{self, ADMIN_EMAIL};

#[tokio::test(flavor = "multi_thread")]
async fn a_short_run_reports_every_operation_with_no_internal_errors() {
    // Slots that never fill, so checkouts fail only when meant to (declined cards).
    let zones = mesh::zones_file(1_000_000);
    let server = mesh::start(
        "all",
        vec![("MANDI_SHIPPING__ZONES_FILE", zones.display().to_string())],
    );
    let admin = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    sign_up(&admin, ADMIN_EMAIL).await;
    let products = admin
        .catalog()
        .list_products(ListProductsRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .products;
    assert!(
        !products.is_empty(),
        "the embedded catalog has demo products"
    );
    for product in &products {
        mesh::stock(&admin, &product.id, 1_000_000).await;
    }

    // Checkouts learn their end both ways: StartCheckout's wait (a decline answers
    // FAILED_PRECONDITION) and WatchCheckout's stream (a decline ends in FAILED).
    for mode in ["watch", "wait"] {
        let out = tempfile::tempdir().unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_mandi-loadgen"))
            .args(["--endpoint", &server.url()])
            .args(["--mix", "browse=3,search=2,cart=2,checkout=3,track=2"])
            .args(["--concurrency", "4", "--duration", "3s"])
            .args(["--decline-rate", "0.5", "--checkout-mode", mode])
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{stdout}{}\nserver log:\n{}",
            String::from_utf8_lossy(&run.stderr),
            server.log()
        );
        assert!(stdout.contains("p99 ms"), "the table prints: {stdout}");

        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
                .unwrap();
        for op in ["browse", "search", "cart", "checkout", "track", "signup"] {
            let figures = &report["operations"][op];
            assert!(
                figures["ok"].as_u64().unwrap_or(0) > 0,
                "{op} succeeded at least once ({mode}): {stdout}"
            );
            assert!(
                figures["latency_ms"]["p99"].as_f64().unwrap() > 0.0,
                "{op}: {figures}"
            );
            assert!(
                figures["errors"].get("INTERNAL").is_none(),
                "{op} answered INTERNAL: {figures}\nserver log:\n{}",
                server.log()
            );
        }
        // Approved cards complete and declined ones end declined, as the sandbox promises.
        let checkout = &report["operations"]["checkout"];
        assert!(
            checkout["outcomes"]["completed"].as_u64().unwrap_or(0) > 0,
            "{checkout}"
        );
        assert!(
            checkout["outcomes"]["declined"].as_u64().unwrap_or(0) > 0,
            "{checkout}"
        );
        assert!(
            checkout["errors"].as_object().unwrap().is_empty(),
            "no checkout failed unexpectedly: {checkout}"
        );
        // Guests and signed-in shoppers both filled carts.
        let cart = &report["operations"]["cart"]["outcomes"];
        assert!(cart["guest"].as_u64().unwrap_or(0) > 0, "{cart}");
        assert!(cart["signed-in"].as_u64().unwrap_or(0) > 0, "{cart}");
        assert_eq!(report["total"]["errors"], 0, "{stdout}");

        let svg = std::fs::read_to_string(out.path().join("latency.svg")).unwrap();
        assert_eq!(
            svg.matches("<polyline").count(),
            6,
            "one line per operation"
        );
    }
}
