//! The reference reconnecting client.
//!
//! Two layers over one connection task:
//! - [`RawClient`]: a reconnecting WebSocket for any server; its incoming stream and its
//!   sender outlive every reconnect.
//! - [`Client`]: pub/sub on top: [`Client::subscribe`] streams that keep yielding across
//!   reconnects, topics restored exactly once per connection, an outbox for offline
//!   publishes, resume from the last sequence seen and explicit gap notices.
//!
//! Both expose a [`Status`] `watch` and a [`StatusChanges`] stream, and follow a
//! [`Policy`]. Build them with [`ClientBuilder`] over any [`crate::net::Connector`].

mod changes;
mod defects;
mod driver;
mod error;
mod events;
mod fanout;
mod handle;
mod policy;
mod pubsub;
mod raw;
mod shared;
mod status;
mod tap;
mod target;

pub use changes::{ChangePool, Changes};
#[cfg(feature = "defects")]
pub use defects::Defect;
pub use error::ClientError;
pub use events::{
    Broadcast, Delivery, Lagged, ServerEvent, StatusChanges, Subscription, TopicEvent,
};
pub use handle::{Client, ClientBuilder, RawClient};
pub use policy::Policy;
pub use status::{Reason, Status};
pub(crate) use tap::{Tap, Tapped};
#[cfg(feature = "defects")]
pub(crate) use target::Target;
