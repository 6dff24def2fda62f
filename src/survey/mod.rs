//! The read-only survey of a home.

pub mod carried;
pub mod history;
pub mod layout;
pub mod stores;
pub mod writers;

use crate::home::Home;
use crate::release::Profile;
use crate::release::limits::QueueLimits;

/// How full a move may make each scoped table on this home: the release's
/// caps at `[sync] max_queue_size` as the release reads it (`config.toml`).
/// The one place they are computed.
pub fn queue_limits(home: &Home, profile: &Profile) -> QueueLimits {
    profile.queue_limits(crate::login::config::max_queue_size(&home.config()))
}
