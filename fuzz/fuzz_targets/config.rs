//! The configuration loaders on any text: the policy (TOML), a rule file (TOML) and a Sigma
//! rule (YAML), picked by the first byte. A file is accepted or refused with an error that
//! names where it is; nothing may panic, and an accepted rule set must evaluate an event.
#![no_main]

use laneguard_core::policy::Policy;
use laneguard_core::rules::RuleSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Err(e) = Policy::from_toml(text, "fuzz/policy.toml") {
                assert!(
                    e.to_string().contains("fuzz/policy.toml"),
                    "error without its file: {e}"
                );
            }
        }
        1 | 2 => {
            let name = if selector % 3 == 1 {
                "fuzz.toml"
            } else {
                "fuzz.yml"
            };
            let (set, errors) = RuleSet::from_sources([(name, text)]);
            for e in &errors {
                assert!(e.to_string().contains(name), "error without its file: {e}");
            }
            // A rule that compiled must run on events of every kind without panicking.
            if !set.rules().is_empty() {
                let mut engine = laneguard_fuzz::bare_engine();
                engine.add_detector(Box::new(set));
                let _ = laneguard_fuzz::run("seed.log", SEED, None, engine);
            }
        }
        _ => unreachable!(),
    }
});

/// One event of each common kind for compiled rules to meet: a MySQL audit statement, a
/// PostgreSQL entry would need its own file, so the audit line and a flow record.
const SEED: &[u8] =
    b"20240115 10:00:00,ip-10-0-1-5,app,10.0.1.5,7,42,QUERY,shop,'SELECT * FROM customers WHERE id = 1',0\n";
