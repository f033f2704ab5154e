//! Retry safety from the real descriptor set and from small synthetic ones.

use prost_types::{
    FieldDescriptorProto, FileDescriptorProto, MethodOptions, ServiceDescriptorProto,
};

use super::*;

const IDENTITY: &str = "/mandi.identity.v1.IdentityService";

#[test]
fn reads_of_the_identity_contract_are_retry_safe() {
    assert!(is_retry_safe(&format!("{IDENTITY}/GetJwks")));
    assert!(is_retry_safe(&format!("{IDENTITY}/GetUser")));
    assert!(is_retry_safe(&format!("{IDENTITY}/GetCurrentUser")));
}

#[test]
fn mutations_without_request_id_are_not_retry_safe() {
    assert!(!is_retry_safe(&format!("{IDENTITY}/Login")));
    assert!(!is_retry_safe(&format!("{IDENTITY}/RotateSigningKey")));
}

#[test]
fn a_mutation_whose_request_has_request_id_is_retry_safe() {
    assert!(is_retry_safe(&format!("{IDENTITY}/SetUserRole")));
    assert!(is_retry_safe(&format!("{IDENTITY}/Register")));
}

#[test]
fn unknown_paths_are_not_retry_safe() {
    assert!(!is_retry_safe(
        "/mandi.identity.v1.IdentityService/GetNothing"
    ));
    assert!(!is_retry_safe("/grpc.health.v1.Health/Check"));
}

#[test]
fn read_prefixes_must_end_a_word() {
    assert!(is_read("List"));
    assert!(is_read("ListOrders"));
    assert!(is_read("BatchGetProducts"));
    assert!(is_read("WatchOrder"));
    assert!(!is_read("Listen"));
    assert!(!is_read("Getaway"));
    assert!(!is_read("CreateOrder"));
}

fn method(name: &str, input: &str) -> MethodDescriptorProto {
    MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(input.into()),
        output_type: Some(".t.v1.Empty".into()),
        ..Default::default()
    }
}

fn message(name: &str, fields: &[&str]) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.into()),
        field: fields
            .iter()
            .map(|f| FieldDescriptorProto {
                name: Some((*f).into()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn synthetic_set() -> Vec<u8> {
    let mut outer = message("Outer", &[]);
    outer.nested_type.push(message("Inner", &["request_id"]));
    let mut ping = method("Ping", ".t.v1.Empty");
    ping.options = Some(MethodOptions {
        idempotency_level: Some(IdempotencyLevel::NoSideEffects as i32),
        ..Default::default()
    });
    let mut upload = method("GetUpload", ".t.v1.Empty");
    upload.client_streaming = Some(true);
    let mut watch = method("WatchThing", ".t.v1.Empty");
    watch.server_streaming = Some(true);
    let file = FileDescriptorProto {
        name: Some("t.proto".into()),
        package: Some("t.v1".into()),
        message_type: vec![message("Empty", &[]), outer],
        service: vec![ServiceDescriptorProto {
            name: Some("S".into()),
            method: vec![
                ping,
                upload,
                watch,
                method("Apply", ".t.v1.Outer.Inner"),
                method("Delete", ".t.v1.Outer"),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    FileDescriptorSet { file: vec![file] }.encode_to_vec()
}

#[test]
fn methods_marked_idempotent_in_the_contract_are_retry_safe() {
    let methods = index_methods(&synthetic_set());

    assert!(methods["/t.v1.S/Ping"].retry_safe);
}

#[test]
fn request_id_is_found_on_nested_input_messages() {
    let methods = index_methods(&synthetic_set());

    assert!(methods["/t.v1.S/Apply"].retry_safe);
    assert!(!methods["/t.v1.S/Delete"].retry_safe);
}

#[test]
fn client_streaming_methods_are_never_retry_safe() {
    let methods = index_methods(&synthetic_set());

    assert!(!methods["/t.v1.S/GetUpload"].retry_safe);
}

#[test]
fn server_streaming_methods_are_marked() {
    let methods = index_methods(&synthetic_set());

    assert!(methods["/t.v1.S/WatchThing"].server_streaming);
    assert!(methods["/t.v1.S/WatchThing"].retry_safe);
    assert!(!methods["/t.v1.S/Ping"].server_streaming);
}

#[test]
fn an_undecodable_descriptor_set_disables_retries() {
    assert!(index_methods(b"\xff\xff\xff").is_empty());
}
