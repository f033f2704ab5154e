//! What the SDK knows about each RPC, read once from the contracts' descriptor set: whether
//! a call may be sent again after UNAVAILABLE, and whether it answers with a stream.

use std::collections::HashMap;
use std::sync::LazyLock;

use prost::Message as _;
use prost_types::method_options::IdempotencyLevel;
use prost_types::{DescriptorProto, FileDescriptorSet, MethodDescriptorProto};

/// Method-name prefixes of reads (AIP-131/132/231 and mandi's search/suggest/watch). A read
/// has no side effect, so sending it twice is harmless.
const READ_PREFIXES: [&str; 6] = ["BatchGet", "Get", "List", "Search", "Suggest", "Watch"];

/// The field by which a mutation is made idempotent (AIP-155): the server applies a
/// repeated `request_id` once.
const REQUEST_ID_FIELD: &str = "request_id";

/// Every method of every mandi contract, by HTTP/2 path (`/pkg.Service/Method`).
static METHODS: LazyLock<HashMap<String, MethodInfo>> =
    LazyLock::new(|| index_methods(crate::proto::FILE_DESCRIPTOR_SET));

/// What the SDK knows about one RPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MethodInfo {
    /// Sending the call again after UNAVAILABLE cannot apply it twice.
    pub(crate) retry_safe: bool,
    /// The server answers with a stream, which a default deadline would cut short.
    pub(crate) server_streaming: bool,
}

/// Returns whether the RPC at `path` (`/mandi.identity.v1.IdentityService/GetJwks`) is
/// retried after UNAVAILABLE: reads (`Get…`, `List…`, `BatchGet…`, `Search…`, `Suggest…`,
/// `Watch…`), mutations whose request carries `request_id`, and methods whose contract marks
/// them `NO_SIDE_EFFECTS` or `IDEMPOTENT`. Client-streaming methods and unknown paths never
/// are.
pub fn is_retry_safe(path: &str) -> bool {
    lookup(path).retry_safe
}

/// Returns what is known about the RPC at `path`; unknown paths get the cautious default
/// (not retried, unary).
pub(crate) fn lookup(path: &str) -> MethodInfo {
    METHODS.get(path).copied().unwrap_or_default()
}

/// Indexes every method of an encoded `FileDescriptorSet` by path.
fn index_methods(encoded: &[u8]) -> HashMap<String, MethodInfo> {
    let set = match FileDescriptorSet::decode(encoded) {
        Ok(set) => set,
        Err(error) => {
            // Cannot happen with the set build.rs wrote; never retrying is the safe fallback.
            tracing::error!(%error, "cannot decode the mandi descriptor set; retries are off");
            return HashMap::new();
        }
    };

    let mut messages = HashMap::new();
    for file in &set.file {
        let package = file.package();
        let prefix = if package.is_empty() {
            String::new()
        } else {
            format!(".{package}")
        };
        for message in &file.message_type {
            index_messages(&prefix, message, &mut messages);
        }
    }

    let mut methods = HashMap::new();
    for file in &set.file {
        let package = file.package();
        for service in &file.service {
            let service_name = if package.is_empty() {
                service.name().to_owned()
            } else {
                format!("{package}.{}", service.name())
            };
            for method in &service.method {
                let input = messages.get(method.input_type()).copied();
                methods.insert(
                    format!("/{service_name}/{}", method.name()),
                    describe(method, input),
                );
            }
        }
    }
    methods
}

/// Adds `message` and its nested messages under their fully qualified names (`.pkg.Msg`),
/// the form method descriptors use for their input types.
fn index_messages<'a>(
    prefix: &str,
    message: &'a DescriptorProto,
    out: &mut HashMap<String, &'a DescriptorProto>,
) {
    let name = format!("{prefix}.{}", message.name());
    for nested in &message.nested_type {
        index_messages(&name, nested, out);
    }
    out.insert(name, message);
}

fn describe(method: &MethodDescriptorProto, input: Option<&DescriptorProto>) -> MethodInfo {
    let has_request_id =
        input.is_some_and(|message| message.field.iter().any(|f| f.name() == REQUEST_ID_FIELD));
    let declared_idempotent = method.options.as_ref().is_some_and(|options| {
        matches!(
            options.idempotency_level(),
            IdempotencyLevel::NoSideEffects | IdempotencyLevel::Idempotent
        )
    });
    MethodInfo {
        // A client stream would have to be buffered whole before the first attempt.
        retry_safe: !method.client_streaming()
            && (is_read(method.name()) || has_request_id || declared_idempotent),
        server_streaming: method.server_streaming(),
    }
}

/// `GetUser` and `List` are reads; `Listen` and `Getaway` are not: the prefix must end the
/// name or be followed by the next capitalised word.
fn is_read(method: &str) -> bool {
    READ_PREFIXES.iter().any(|prefix| {
        method.strip_prefix(prefix).is_some_and(|rest| {
            rest.chars()
                .next()
                .is_none_or(|first| first.is_ascii_uppercase())
        })
    })
}

#[cfg(test)]
mod tests;
