//! With certificates configured the server speaks TLS and demands a client certificate
//! signed by the configured CA (mTLS); its own calls to identity for keys use it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::GetCurrentUserRequest;
use mandi_testkit::{ServerProcess, TestPki};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

fn start_with_mtls(pki: &TestPki) -> ServerProcess {
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    ServerProcess::start(
        "all",
        &[
            ("MANDI_TLS__CERT_FILE", cert.as_str()),
            ("MANDI_TLS__KEY_FILE", key.as_str()),
            ("MANDI_TLS__CLIENT_CA_FILE", ca.as_str()),
            ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024"),
        ],
    )
}

fn tls(pki: &TestPki, with_client_cert: bool) -> ClientTlsConfig {
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.read("ca.pem")))
        .domain_name("localhost");
    if with_client_cert {
        config.identity(Identity::from_pem(
            pki.read("client.pem"),
            pki.read("client.key"),
        ))
    } else {
        config
    }
}

fn client(server: &ServerProcess, tls_config: ClientTlsConfig) -> Mandi {
    Mandi::builder()
        .endpoint(format!("https://{}", server.grpc))
        .tls(tls_config)
        .connect_lazy()
        .unwrap()
}

#[tokio::test]
async fn a_client_with_a_certificate_from_the_ca_signs_in_over_mtls() {
    let pki = TestPki::generate();
    let server = start_with_mtls(&pki);
    let mandi = client(&server, tls(&pki, true));
    mandi_testkit::accounts::sign_up(&mandi, "asha@example.com").await;
    // Verifying the token makes the server fetch keys from itself over mTLS.
    let me = mandi
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await
        .unwrap();
    assert_eq!(me.into_inner().user.unwrap().email, "asha@example.com");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let pki = TestPki::generate();
    let server = start_with_mtls(&pki);
    let err = client(&server, tls(&pki, false))
        .identity()
        .get_jwks(mandi_sdk::proto::mandi::identity::v1::GetJwksRequest {})
        .await
        .unwrap_err();
    // GetJwks is public: only the missing certificate can fail it. TLS 1.3 checks the
    // client certificate after the client thinks the handshake is done, so the refusal
    // shows up as a fatal alert or as the connection closing under the call.
    assert!(
        matches!(
            err.code(),
            tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown
        ),
        "{err:?}"
    );

    let plaintext = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    let err = plaintext
        .identity()
        .get_jwks(mandi_sdk::proto::mandi::identity::v1::GetJwksRequest {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_client_with_a_certificate_from_another_ca_is_refused() {
    let pki = TestPki::generate();
    let server = start_with_mtls(&pki);
    // A well-formed client certificate, but signed by a CA the server does not trust.
    let stranger = TestPki::generate();
    let foreign = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.read("ca.pem")))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            stranger.read("client.pem"),
            stranger.read("client.key"),
        ));
    let err = client(&server, foreign)
        .identity()
        .get_jwks(mandi_sdk::proto::mandi::identity::v1::GetJwksRequest {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown
        ),
        "{err:?}"
    );

    // The same server still serves a client whose certificate its CA signed, so the
    // refusal above is the foreign certificate and nothing else.
    let jwks = client(&server, tls(&pki, true))
        .identity()
        .get_jwks(mandi_sdk::proto::mandi::identity::v1::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!jwks.keys.is_empty(), "{jwks:?}");
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_server() {
    let pki = TestPki::generate();
    let server = start_with_mtls(&pki);
    // mTLS is mutual: a client that trusts only another CA must not accept this server.
    let stranger = TestPki::generate();
    let wrong_root = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(stranger.read("ca.pem")))
        .domain_name("localhost")
        .identity(Identity::from_pem(
            pki.read("client.pem"),
            pki.read("client.key"),
        ));
    let err = client(&server, wrong_root)
        .identity()
        .get_jwks(mandi_sdk::proto::mandi::identity::v1::GetJwksRequest {})
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{err:?}"
    );
}
