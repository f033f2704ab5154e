//! The errors the SDK itself returns while building clients. Errors of calls are
//! `tonic::Status` values, as the generated clients return them.

/// What can go wrong while configuring a [`Mandi`](crate::Mandi) client.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// An endpoint URL could not be parsed.
    #[error("invalid endpoint url {url:?}")]
    InvalidEndpoint {
        /// The URL as given.
        url: String,
        /// Why tonic rejected it.
        #[source]
        source: tonic::transport::Error,
    },
    /// An endpoint URL parsed but is not an absolute `http://` or `https://` URL.
    #[error("endpoint url {url:?} must be absolute and start with http:// or https://")]
    UnsupportedEndpoint {
        /// The URL as given.
        url: String,
    },
    /// An `https://` endpoint was given without a TLS configuration.
    #[error("endpoint url {url:?} uses https but no tls config was given (MandiBuilder::tls)")]
    TlsRequired {
        /// The URL as given.
        url: String,
    },
    /// The TLS configuration could not be applied to an endpoint.
    #[error("cannot apply the tls config to endpoint url {url:?}")]
    Tls {
        /// The URL the configuration was applied to.
        url: String,
        /// Why tonic rejected it.
        #[source]
        source: tonic::transport::Error,
    },
    /// `service_endpoint` named a service this SDK does not know.
    #[error("unknown service {name:?}; known services: {known}")]
    UnknownService {
        /// The name as given.
        name: String,
        /// The names accepted, comma separated.
        known: String,
    },
    /// Some services have neither an override nor a default endpoint.
    #[error("no endpoint for services {services} (MandiBuilder::endpoint)")]
    MissingEndpoint {
        /// The services left without an endpoint, comma separated.
        services: String,
    },
    /// The access token contains characters an HTTP header cannot carry.
    #[error("access token is not a valid authorization header value")]
    InvalidToken(#[source] http::header::InvalidHeaderValue),
}
