#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| relay_core::sim::fuzz::frame_decode(data));
