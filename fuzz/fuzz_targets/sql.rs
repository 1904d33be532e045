//! The SQL analyzer on any text, in every dialect, with its cache and without: the analysis of
//! a statement must not depend on whether it was cached (the cache is keyed by the fingerprint
//! and the literal-dependent flags; a wrong key would hand one statement another's verdict).
#![no_main]

use laneguard_core::sql::{Analyzer, Dialect};
use libfuzzer_sys::fuzz_target;

const DIALECTS: [Dialect; 3] = [Dialect::Mysql, Dialect::Postgres, Dialect::Generic];

thread_local! {
    /// A cache that lives across inputs, as in a warm engine: earlier inputs fill it.
    static WARM: std::cell::RefCell<Analyzer> = std::cell::RefCell::new(Analyzer::new(4096));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let dialect = DIALECTS[usize::from(selector) % DIALECTS.len()];
    let cold = Analyzer::new(0).analyze(text, dialect);
    let warm = WARM.with(|a| a.borrow_mut().analyze(text, dialect));
    let (cold, warm) = (
        serde_json::to_value(&*cold).expect("analysis serialises"),
        serde_json::to_value(&*warm).expect("analysis serialises"),
    );
    assert_eq!(cold, warm, "cached and uncached analyses differ");
    // The normalized text is what alerts show: bounded, whatever the statement.
    let normalized = cold["normalized"].as_str().unwrap_or("");
    let bound = laneguard_core::sql::MAX_NORMALIZED_BYTES + '…'.len_utf8();
    assert!(
        normalized.len() <= bound,
        "normalized text of {} bytes",
        normalized.len()
    );
});
