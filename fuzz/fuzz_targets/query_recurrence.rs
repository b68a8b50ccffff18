//! libFuzzer entry for the `query_recurrence` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer query_recurrence`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::query_recurrence(data);
});
