//! The daemon over real HTTP on loopback: the API's answers and errors, idempotency, the
//! website form, history, timers on the wall clock, the outbox, hot reload and a runaway hook.
//! Each test starts its own daemon on 127.0.0.1 (a free port) with an SQLite file of its own.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

#[path = "../common/mod.rs"]
mod common;

mod acting;
mod api;
mod digest;
mod document;
mod door;
mod erasure;
mod explain;
mod forget;
mod forms;
mod heal;
mod import;
mod input;
mod leads;
mod limits;
mod mail;
mod messages;
mod metrics;
mod pages;
mod privacy;
mod reload;
mod restart;
mod schemathesis;
mod switch;
mod telegram;
mod timers;
mod valid;
mod webhooks;
mod what_if;
mod work;
