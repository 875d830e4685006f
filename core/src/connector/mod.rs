//! The connector side of one connection.
