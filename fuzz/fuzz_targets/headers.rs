//! libFuzzer entry for the `headers` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer headers`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::headers(data);
});
