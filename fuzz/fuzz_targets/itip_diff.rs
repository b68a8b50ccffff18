//! libFuzzer entry for the `itip_diff` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer itip_diff`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::itip_diff(data);
});
