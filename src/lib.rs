//! lanshare: share files on a local network.
//!
//! The core (this library without the `gui` feature) holds the wire [`protocol`], the
//! [`host`] with its [`storage`], and the [`participant`] side. The command line and the
//! desktop app are thin layers over it.

pub mod compression;
pub mod config;
pub mod direct;
pub mod discovery;
#[cfg(feature = "gui")]
pub mod gui;
pub mod host;
pub mod identity;
pub mod net;
pub mod participant;
pub mod pipeline;
pub mod preview;
pub mod protocol;
pub mod random;
pub mod storage;
pub mod tls;
pub mod units;
pub mod writeback;
