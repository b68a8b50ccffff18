//! libFuzzer entry for the `xml_request` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer xml_request`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::xml_request(data);
});
