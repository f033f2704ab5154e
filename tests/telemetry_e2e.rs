//! Traces leave the server over OTLP when an endpoint is configured, as children of the
//! caller's W3C trace context.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mandi_sdk::proto::mandi::identity::v1::GetJwksRequest;
use mandi_sdk::proto::mandi::identity::v1::identity_service_client::IdentityServiceClient;
use mandi_testkit::ServerProcess;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::sync::mpsc;

/// A collector that hands every exported span to the test.
struct Collector(mpsc::UnboundedSender<Span>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        for span in spans {
            let _ = self.0.send(span);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn calls_are_exported_as_spans_in_the_callers_trace() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    let (tx, mut spans) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let endpoint = format!("http://{collector_addr}");
    let server = ServerProcess::start("all", &[("MANDI_OTLP__ENDPOINT", endpoint.as_str())]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetJwksRequest {});
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    IdentityServiceClient::new(channel)
        .get_jwks(request)
        .await
        .unwrap();

    // Stopping the server flushes the batch exporter.
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success());

    let wanted = "/mandi.identity.v1.IdentityService/GetJwks";
    let span = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let span = spans.recv().await.expect("collector open");
            if attribute(&span, "rpc.method").as_deref() == Some(wanted) {
                return span;
            }
        }
    })
    .await
    .expect("a span for the GetJwks call reached the collector");
    assert_eq!(span.name, "grpc");
    assert_eq!(
        hex(&span.trace_id),
        trace_id,
        "the span joins the caller's trace"
    );
    assert_eq!(
        attribute(&span, "rpc.grpc.status_code").as_deref(),
        Some("OK")
    );
    assert!(attribute(&span, "request_id").is_some());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
