//! Test support shared by the integration tests in this crate:
//! - [`emulator`]: the local AWS emulator (moto server) and SDK configuration
//!   pointed at it, with uniquely named resources per test.
//! - [`contract`]: what every adapter of a port must do, run against the local
//!   adapter and the AWS adapter alike.
//! - [`openapi`]: the API's OpenAPI document and real bodies, checked against it.
//! - [`wire`]: a loopback HTTP server that answers recorded exchanges and keeps
//!   what it was sent (Bedrock and OpenSearch have no emulator), and a proxy that
//!   injects faults in front of the emulator.
//! - [`lambda`]: API Gateway events into the HTTP functions' requests, and
//!   their responses into what API Gateway receives.

pub mod contract;
pub mod emulator;
pub mod lambda;
pub mod openapi;
pub mod wire;
