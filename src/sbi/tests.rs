//! SBI tests.
