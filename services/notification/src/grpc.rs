//! The tonic service: per-method policies, proto ⇄ domain conversion, paging, and the one
//! function mapping notification errors to statuses.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mandi_runtime::auth::{Caller, Policy, caller, roles};
use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::notification::v1 as pb;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::directory::{Directory, channel_from_proto};
use crate::domain::{
    ChannelKind, Delivery, DeliveryFilter, DeliveryStatus, NotificationError, Violation,
};
use crate::notifier::{Notifier, SendRequest, Viewer};
use crate::store::NotificationStore;

/// The error domain.
pub const DOMAIN: &str = "mandi.notification";

/// Who may call each method; the handlers narrow reads to the caller's own deliveries
/// unless the caller is an admin or an internal service.
pub const POLICIES: &[(&str, Policy)] = &[
    ("SendNotification", Policy::AnyRole(&[roles::SERVICE])),
    ("GetDelivery", Policy::SignedIn),
    ("ListDeliveries", Policy::SignedIn),
];

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// Serves `mandi.notification.v1.NotificationService`.
pub struct NotificationGrpc<S, D> {
    notifier: Notifier<S, D>,
}

impl<S, D> NotificationGrpc<S, D> {
    /// Serves `notifier`.
    pub fn new(notifier: Notifier<S, D>) -> Self {
        Self { notifier }
    }
}

fn viewer(caller: &Caller) -> Result<Viewer, Status> {
    if caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE) {
        return Ok(Viewer::Staff);
    }
    Uuid::parse_str(&caller.subject)
        .map(Viewer::User)
        .map_err(|_| {
            errors::status(
                Code::PermissionDenied,
                "unknown caller",
                DOMAIN,
                "UNKNOWN_CALLER",
            )
        })
}

#[tonic::async_trait]
impl<S: NotificationStore, D: Directory> pb::notification_service_server::NotificationService
    for NotificationGrpc<S, D>
{
    async fn send_notification(
        &self,
        request: Request<pb::SendNotificationRequest>,
    ) -> Result<Response<pb::SendNotificationResponse>, Status> {
        let request = send_request(request.into_inner()).map_err(to_status)?;
        let deliveries = self.notifier.send(request).await.map_err(to_status)?;
        Ok(Response::new(pb::SendNotificationResponse {
            deliveries: deliveries.into_iter().map(to_proto).collect(),
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let viewer = viewer(caller(&request)?)?;
        let id = uuid("delivery_id", &request.get_ref().delivery_id).map_err(to_status)?;
        let delivery = self.notifier.get(&viewer, id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetDeliveryResponse {
            delivery: Some(to_proto(delivery)),
        }))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let viewer = viewer(caller(&request)?)?;
        let request = request.into_inner();
        let filter = filter(&request).map_err(to_status)?;
        let size =
            paging::page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE).map_err(paging_status)?;
        // The token is bound to the filters as asked, and to whose deliveries they are.
        let fingerprint = paging::fingerprint(&(&filter, format!("{viewer:?}")));
        let after: Option<Uuid> =
            paging::decode_token(&request.page_token, &fingerprint).map_err(paging_status)?;
        let mut page = self
            .notifier
            .list(&viewer, filter, after, size + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = if page.len() > size {
            page.truncate(size);
            page.last()
                .map(|d| paging::encode_token(&d.id, &fingerprint))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: page.into_iter().map(to_proto).collect(),
            next_page_token,
        }))
    }
}

// === conversion ===

fn uuid(field: &str, value: &str) -> Result<Uuid, NotificationError> {
    Uuid::parse_str(value.trim())
        .map_err(|_| NotificationError::Invalid(vec![Violation::new(field, "must be a UUID")]))
}

fn channel(field: &str, value: i32) -> Result<ChannelKind, NotificationError> {
    channel_from_proto(value)
        .ok_or_else(|| NotificationError::Invalid(vec![Violation::new(field, "is not a channel")]))
}

fn send_request(request: pb::SendNotificationRequest) -> Result<SendRequest, NotificationError> {
    let mut violations = Vec::new();
    let user_id = if request.user_id.trim().is_empty() {
        None
    } else {
        match uuid("user_id", &request.user_id) {
            Ok(id) => Some(id),
            Err(_) => {
                violations.push(Violation::new("user_id", "must be a UUID"));
                None
            }
        }
    };
    let mut channels = Vec::new();
    for (i, value) in request.channels.iter().enumerate() {
        match channel(&format!("channels[{i}]"), *value) {
            Ok(c) => channels.push(c),
            Err(NotificationError::Invalid(v)) => violations.extend(v),
            Err(_) => {}
        }
    }
    if request.template.trim().is_empty() {
        violations.push(Violation::new("template", "is required"));
    }
    let recipient = Some(request.recipient.trim().to_owned()).filter(|r| !r.is_empty());
    if let Some(address) = &recipient {
        let looks_right = match channels.as_slice() {
            [ChannelKind::Email] => address.contains('@'),
            [ChannelKind::Sms | ChannelKind::WhatsApp] => {
                address.starts_with('+') && address[1..].chars().all(|c| c.is_ascii_digit())
            }
            _ => true,
        };
        if !looks_right {
            violations.push(Violation::new(
                "recipient",
                "is not an address on that channel",
            ));
        }
    }
    if !violations.is_empty() {
        return Err(NotificationError::Invalid(violations));
    }
    Ok(SendRequest {
        user_id,
        channels,
        template: request.template.trim().to_owned(),
        data: request
            .template_data
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        recipient,
        request_id: Some(request.request_id.trim().to_owned()).filter(|r| !r.is_empty()),
    })
}

fn filter(request: &pb::ListDeliveriesRequest) -> Result<DeliveryFilter, NotificationError> {
    let user_id = if request.user_id.trim().is_empty() {
        None
    } else {
        Some(uuid("user_id", &request.user_id)?)
    };
    let channel = match request.channel {
        0 => None,
        value => Some(channel("channel", value)?),
    };
    let status = match pb::DeliveryStatus::try_from(request.status) {
        Ok(pb::DeliveryStatus::Unspecified) => None,
        Ok(pb::DeliveryStatus::Pending) => Some(DeliveryStatus::Pending),
        Ok(pb::DeliveryStatus::Retrying) => Some(DeliveryStatus::Retrying),
        Ok(pb::DeliveryStatus::Sent) => Some(DeliveryStatus::Sent),
        Ok(pb::DeliveryStatus::Failed) => Some(DeliveryStatus::Failed),
        Ok(pb::DeliveryStatus::Suppressed) => Some(DeliveryStatus::Suppressed),
        Err(_) => {
            return Err(NotificationError::Invalid(vec![Violation::new(
                "status",
                "is not a delivery status",
            )]));
        }
    };
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(DeliveryFilter {
        user_id,
        channel,
        status,
        event_id: text(&request.event_id),
        template: text(&request.template),
    })
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A delivery as the contract shows it.
pub fn to_proto(d: Delivery) -> pb::Delivery {
    let channel = match d.channel {
        ChannelKind::Email => pb::Channel::Email,
        ChannelKind::Sms => pb::Channel::Sms,
        ChannelKind::Push => pb::Channel::Push,
        ChannelKind::WhatsApp => pb::Channel::Whatsapp,
    };
    let status = match d.status {
        DeliveryStatus::Pending => pb::DeliveryStatus::Pending,
        DeliveryStatus::Retrying => pb::DeliveryStatus::Retrying,
        DeliveryStatus::Sent => pb::DeliveryStatus::Sent,
        DeliveryStatus::Failed => pb::DeliveryStatus::Failed,
        DeliveryStatus::Suppressed => pb::DeliveryStatus::Suppressed,
    };
    let recipient = if d.channel == ChannelKind::Push && d.recipient.len() > 16 {
        format!("{}…", &d.recipient[..16])
    } else {
        d.recipient
    };
    pb::Delivery {
        name: format!("deliveries/{}", d.id),
        id: d.id.to_string(),
        user_id: d.user_id.map(|u| u.to_string()).unwrap_or_default(),
        channel: channel as i32,
        recipient,
        template: d.template,
        template_data: d.data.into_iter().collect(),
        subject: d.subject,
        status: status as i32,
        attempts: d.attempts,
        max_attempts: d.max_attempts,
        last_error: d.last_error,
        next_attempt_time: if d.status == DeliveryStatus::Retrying {
            d.next_attempt_at.map(timestamp)
        } else {
            None
        },
        event_id: d.event_id,
        request_id: d.request_id,
        create_time: Some(timestamp(d.created_at)),
        update_time: Some(timestamp(d.updated_at)),
        sent_time: d.sent_at.map(timestamp),
        body: d.body,
        trace_id: d.trace_id,
    }
}

// === status mapping ===

fn paging_status(error: paging::PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The one place notification errors become statuses.
pub fn to_status(error: NotificationError) -> Status {
    let message = error.to_string();
    match error {
        NotificationError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        NotificationError::NotFound(_) => {
            errors::status(Code::NotFound, message, DOMAIN, "DELIVERY_NOT_FOUND")
        }
        NotificationError::PermissionDenied(_) => {
            errors::status(Code::PermissionDenied, message, DOMAIN, "NOT_YOURS")
        }
        NotificationError::Unavailable(_) => errors::unavailable(DOMAIN, &error),
        NotificationError::Store(ref cause) => errors::internal(DOMAIN, cause),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
