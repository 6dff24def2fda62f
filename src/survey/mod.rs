//! The read-only survey of a home.

pub mod carried;
pub mod history;
pub mod layout;
pub mod stores;
pub mod writers;
