//! End-to-end tests live in `local_runtime/`; this crate has no library code.
