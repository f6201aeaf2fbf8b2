//! Any bytes: parsing, checking and formatting never panic, and whatever parses formats back
//! to the same meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let analysis = dealflow::analyze(text, &|_| Err("no files while fuzzing".into()));
    if !analysis.diagnostics.iter().any(|d| d.code.id.starts_with("E00")) {
        let once = dealflow::fmt::format(&analysis.file, text);
        let again = dealflow::parse::parse(&once);
        assert!(again.diagnostics.is_empty(), "formatted text does not parse");
        assert_eq!(analysis.file, again.file, "formatting changed the meaning");
    }
});
