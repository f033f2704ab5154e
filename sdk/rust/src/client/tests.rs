//! The builder's validation and the token sharing of `Mandi`; calls over the wire are in
//! `tests/client.rs`.

use super::*;

fn error_of(builder: MandiBuilder) -> SdkError {
    match builder.connect_lazy() {
        Ok(_) => panic!("the builder should have failed"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn a_bad_url_is_named_in_the_error() {
    for url in ["not a url", "127.0.0.1:50051", "ftp://host:1", "http://"] {
        let error = error_of(Mandi::builder().endpoint(url));

        assert!(error.to_string().contains(url), "{url}: {error}");
    }
}

#[tokio::test]
async fn an_unknown_service_name_is_rejected() {
    let error = error_of(
        Mandi::builder()
            .endpoint("http://127.0.0.1:1")
            .service_endpoint("idenity", "http://127.0.0.1:2"),
    );

    assert!(matches!(&error, SdkError::UnknownService { name, .. } if name == "idenity"));
    assert!(error.to_string().contains("identity"), "{error}");
}

#[tokio::test]
async fn services_without_any_endpoint_are_listed() {
    let error = error_of(Mandi::builder());

    assert!(
        matches!(&error, SdkError::MissingEndpoint { services } if services.contains("identity"))
    );
}

#[tokio::test]
async fn overrides_alone_are_enough_when_they_cover_every_service() {
    let mut builder = Mandi::builder();
    for service in SERVICES {
        builder = builder.service_endpoint(*service, "http://127.0.0.1:1");
    }

    assert!(builder.connect_lazy().is_ok());
}

#[tokio::test]
async fn https_without_tls_config_is_rejected() {
    let error = error_of(Mandi::builder().endpoint("https://mandi.example:443"));

    assert!(matches!(error, SdkError::TlsRequired { .. }));
}

#[tokio::test]
async fn https_with_tls_config_builds() {
    let mandi = Mandi::builder()
        .endpoint("https://mandi.example:443")
        .tls(ClientTlsConfig::new().domain_name("mandi.example"))
        .connect_lazy();

    assert!(mandi.is_ok());
}

#[tokio::test]
async fn the_token_is_shared_by_clones_and_channels() {
    let mandi = Mandi::builder()
        .endpoint("http://127.0.0.1:1")
        .token("first")
        .connect_lazy()
        .expect("valid config");
    let clone = mandi.clone();

    mandi.set_token(Some("second".into())).expect("valid token");

    assert_eq!(clone.token_handle().get().as_deref(), Some("second"));
    assert_eq!(
        clone.channels.identity.token_handle().get().as_deref(),
        Some("second")
    );
}

#[tokio::test]
async fn debug_output_does_not_show_the_token() {
    let builder = Mandi::builder().token("secret-token");

    assert!(!format!("{builder:?}").contains("secret-token"));
}
