//! Run-loop tests.
