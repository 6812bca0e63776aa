//! The backends, one module each. Every backend carries out the same `core::ops::Op`s.

pub mod dummy;
pub mod memory;
pub mod rest;
