//! Small sans-IO policies.
