//! The `relay` command line.
fn main() {}
