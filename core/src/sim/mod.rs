//! Test rig shared by the test suites and the fuzz targets (feature `sim`).

pub mod fuzz;
