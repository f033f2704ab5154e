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
    pub mod profile {
        pub mod v1 {
            tonic::include_proto!("mandi.profile.v1");
        }
    }
    pub mod catalog {
        pub mod v1 {
            tonic::include_proto!("mandi.catalog.v1");
        }
    }
    pub mod inventory {
        pub mod v1 {
            tonic::include_proto!("mandi.inventory.v1");
        }
    }
    pub mod cart {
        pub mod v1 {
            tonic::include_proto!("mandi.cart.v1");
        }
    }
    pub mod order {
        pub mod v1 {
            tonic::include_proto!("mandi.order.v1");
        }
    }
    pub mod payment {
        pub mod v1 {
            tonic::include_proto!("mandi.payment.v1");
        }
    }
    pub mod checkout {
        pub mod v1 {
            tonic::include_proto!("mandi.checkout.v1");
        }
    }
    pub mod shipping {
        pub mod v1 {
            tonic::include_proto!("mandi.shipping.v1");
        }
    }
    pub mod notification {
        pub mod v1 {
            tonic::include_proto!("mandi.notification.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("mandi.events.v1");
        }
    }
}
