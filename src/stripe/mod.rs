//! Talking to Stripe: the client (auth, version pin, limiter, retries) and the stream registry.

pub mod client;
pub mod limiter;
pub mod streams;

pub use client::{ClientConfig, RequestStats, StripeClient, StripeError};
pub use streams::{STREAMS, StreamDef, Sync};
