//! Generated message types, clients and server traits, one module per protobuf package.
#![allow(clippy::all, missing_docs)]

/// The encoded `FileDescriptorSet` of every mandi contract, comments included, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mandi_descriptor.bin"));

pub mod mandi {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("mandi.common.v1");
        }
    }
    pub mod identity {
        pub mod v1 {
            tonic::include_proto!("mandi.identity.v1");
        }
    }
}
