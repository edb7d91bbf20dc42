//! Talking to Stripe: the client (auth, version pin, limiter, retries), the key rules, the stream
//! registry and the schemas its objects are read into.

pub mod client;
pub mod keys;
pub mod limiter;
pub mod schema;
pub mod streams;

pub use client::{ClientConfig, RequestStats, StripeClient, StripeError};
pub use streams::{STREAMS, StreamDef, Sync};
