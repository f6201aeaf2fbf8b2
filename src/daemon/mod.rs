//! The daemon: the engine run against stored deals, on the wall clock, behind HTTP.
//!
//! A change travels one way: an HTTP handler (`api`, `web`) admits the request and hands an
//! [`Op`] to the [`Writer`], which groups what arrives into one transaction: the `batch` reads
//! the deals, runs the engine's steps in memory and writes everything; the answer goes back after
//! the commit. The `scheduler` hands due timers and local midnights to the same writer;
//! `reload` puts new rules in place; the `outbox` sends what steps queued. `core` holds the
//! store and the rules running now; `state` is what the handlers share; `server` starts it all,
//! assembles the routes and stops it in order.
//!
//! The public surface is small: [`start`] a daemon from a [`Config`], [`Core::open`] a core
//! without HTTP, run [`Op`]s through a [`Writer`] or [`Core::run_all`], [`replay`] a scenario.

mod api;
mod batch;
pub mod config;
mod connections;
mod core;
pub(crate) mod demo;
mod digest;
pub(crate) mod door;
mod guard;
mod headers;
mod metrics;
mod openapi;
mod ops;
mod outbox;
mod privacy;
mod ready;
mod refused;
mod reload;
mod replay;
mod rules;
mod scheduler;
mod server;
mod state;
mod switching;
pub mod telegram;
mod warm;
mod web;
pub mod webhooks;
mod writer;

pub use self::core::{Core, OpenError, Opening};
pub(crate) use api::deals::valid_id as valid_deal_id;
pub(crate) use api::intake::new_id as new_deal_id;
pub use batch::{CoreError, Op, Sender, Step};
pub use config::Config;
pub use metrics::Metrics;
pub use outbox::TransportError;
pub use replay::{Played, ReplayError, replay};
pub use rules::Rules;
pub use server::{Running, StartError, start, tls_provider};
pub use web::phrases;
pub use writer::{WriteError, Writer};

/// The most deals the writer keeps as it committed them (so that the next step on one of them
/// does not read it again).
pub const MOST_KEPT: usize = warm::MOST_KEPT;
