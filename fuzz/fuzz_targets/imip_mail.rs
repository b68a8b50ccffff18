//! libFuzzer entry for the `imip_mail` target of tests/fuzz/targets.rs (`tools/fuzz --libfuzzer imip_mail`).
#![no_main]

#[path = "../../tests/fuzz/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = targets::imip_mail(data);
});
