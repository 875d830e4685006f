//! End-to-end tests of the relay workspace live in `tests/`.
