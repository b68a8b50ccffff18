//! libFuzzer entry for the `ical_index` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer ical_index`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::ical_index(data);
});
