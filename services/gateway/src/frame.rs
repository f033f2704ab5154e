//! Checks a call's body before it leaves the edge: exactly one gRPC frame, and a message
//! that decodes as the method's input type.
//!
//! tonic answers a body it cannot decode (a cut frame, a compressed flag without an
//! encoding, bytes that are not the message) with INTERNAL, which tells a client the
//! server failed. At the edge that input comes from the internet: refusing it here as
//! INVALID_ARGUMENT gives the caller the right answer and keeps garbage off the services.

use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Why a body is not one well-formed request message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadFrame {
    /// No frame at all.
    #[error("the request has no message")]
    Empty,
    /// Fewer bytes than a frame header, or than the header says follow.
    #[error("the request message is cut short: {0}")]
    Truncated(String),
    /// Bytes after the first frame.
    #[error("the request has more than one message")]
    Trailing,
    /// A flag byte other than 0 (plain) or 1 (compressed).
    #[error("the request frame has an unknown flag {0:#04x}")]
    Flag(u8),
    /// The compressed flag without a `grpc-encoding` saying how.
    #[error("the request message is marked compressed but names no grpc-encoding")]
    NoEncoding,
    /// The message does not decode as the method's input type.
    #[error("the request is not a valid {message}: {reason}")]
    Message {
        /// The input type's full name.
        message: String,
        /// The decoder's complaint.
        reason: String,
    },
}

/// Checks `body` (gRPC framing, after any grpc-web translation) against `input`, the
/// method's request type when known. `encoded`: the call names a `grpc-encoding`, so a
/// compressed message is passed on undecoded for the service to inflate.
pub fn check(
    body: &[u8],
    input: Option<&MessageDescriptor>,
    encoded: bool,
) -> Result<(), BadFrame> {
    if body.is_empty() {
        return Err(BadFrame::Empty);
    }
    let Some((header, rest)) = body.split_first_chunk::<5>() else {
        return Err(BadFrame::Truncated(format!(
            "{} bytes, a frame header is 5",
            body.len()
        )));
    };
    let [flag, length @ ..] = *header;
    let length = u32::from_be_bytes(length) as usize;
    match length.cmp(&rest.len()) {
        std::cmp::Ordering::Greater => {
            return Err(BadFrame::Truncated(format!(
                "the frame says {length} bytes, {} follow",
                rest.len()
            )));
        }
        std::cmp::Ordering::Less => return Err(BadFrame::Trailing),
        std::cmp::Ordering::Equal => {}
    }
    match flag {
        0 => {}
        1 if encoded => return Ok(()),
        1 => return Err(BadFrame::NoEncoding),
        other => return Err(BadFrame::Flag(other)),
    }
    if let Some(input) = input {
        DynamicMessage::decode(input.clone(), rest).map_err(|e| BadFrame::Message {
            message: input.full_name().to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mandi_sdk::proto::mandi::catalog::v1::SearchProductsRequest;
    use proptest::prelude::*;
    use prost::Message as _;

    fn input() -> MessageDescriptor {
        mandi_testkit::fuzz::pool()
            .get_message_by_name("mandi.catalog.v1.SearchProductsRequest")
            .unwrap()
    }

    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut framed = vec![flag];
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(payload);
        framed
    }

    #[test]
    fn one_well_formed_message_passes() {
        let message = SearchProductsRequest {
            query: "mango".into(),
            page_size: 5,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(check(&frame(0, &message), Some(&input()), false), Ok(()));
        // An empty message is a valid message (all defaults).
        assert_eq!(check(&frame(0, &[]), Some(&input()), false), Ok(()));
    }

    #[test]
    fn broken_frames_are_named() {
        let message = SearchProductsRequest {
            query: "mango".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let framed = frame(0, &message);
        let input = input();
        assert_eq!(check(&[], Some(&input), false), Err(BadFrame::Empty));
        assert!(matches!(
            check(&framed[..3], Some(&input), false),
            Err(BadFrame::Truncated(_))
        ));
        assert!(matches!(
            check(&framed[..framed.len() - 1], Some(&input), false),
            Err(BadFrame::Truncated(_))
        ));
        let mut two = framed.clone();
        two.extend_from_slice(&framed);
        assert_eq!(check(&two, Some(&input), false), Err(BadFrame::Trailing));
        assert_eq!(
            check(&frame(1, &message), Some(&input), false),
            Err(BadFrame::NoEncoding)
        );
        assert_eq!(check(&frame(1, &message), Some(&input), true), Ok(()));
        assert_eq!(
            check(&frame(0x80, &message), Some(&input), false),
            Err(BadFrame::Flag(0x80))
        );
    }

    #[test]
    fn bytes_that_are_not_the_message_are_refused() {
        let input = input();
        // Field 1 (query, a string) holding invalid UTF-8.
        let bad_utf8 = frame(0, &[0x0a, 0x02, 0xff, 0xfe]);
        assert!(matches!(
            check(&bad_utf8, Some(&input), false),
            Err(BadFrame::Message { .. })
        ));
        // A length running past the end of the message.
        let underflow = frame(0, &[0x0a, 0x09, b'a']);
        assert!(matches!(
            check(&underflow, Some(&input), false),
            Err(BadFrame::Message { .. })
        ));
        // Without a known type only the framing is checked.
        assert_eq!(check(&bad_utf8, None, false), Ok(()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever the bytes, the check answers without panicking, and whatever it lets
        /// through prost decodes too: the service never sees a body it would call INTERNAL.
        #[test]
        fn the_check_never_panics_and_agrees_with_prost(
            flag in prop_oneof![Just(0u8), any::<u8>()],
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            extra in proptest::collection::vec(any::<u8>(), 0..3),
        ) {
            let mut body = frame(flag, &payload);
            body.extend_from_slice(&extra);
            if check(&body, Some(&input()), false).is_ok() {
                prop_assert!(SearchProductsRequest::decode(payload.as_slice()).is_ok());
            }
        }

        /// Every generated request of every method passes the check once framed: the edge
        /// refuses nothing the SDK can send.
        #[test]
        fn every_generated_request_passes(seed in any::<u64>()) {
            let pool = mandi_testkit::fuzz::pool();
            let services: Vec<_> = pool
                .services()
                .filter(|s| s.full_name().starts_with("mandi."))
                .collect();
            let service = &services[(seed % services.len() as u64) as usize];
            let methods: Vec<_> = service.methods().collect();
            let method = &methods[((seed >> 8) % methods.len() as u64) as usize];
            let message = mandi_testkit::fuzz::Generator::new(seed, Default::default())
                .message(&method.input(), 0)
                .encode_to_vec();
            prop_assert_eq!(check(&frame(0, &message), Some(&method.input()), false), Ok(()));
        }
    }
}
