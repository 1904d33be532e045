//! Hostile input must never panic: random bytes, random mutations of real messages, and
//! random truncations all end in a typed error (or, for an unmodified message, success).

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use laneguard_esdk::{Limits, decrypt, parse_header};
use proptest::prelude::*;

fn fixture(name: &str) -> (Vec<u8>, [u8; 32]) {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let kh = v["data_key_hex"].as_str().unwrap();
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&kh[2 * i..2 * i + 2], 16).unwrap();
    }
    (B64.decode(v["message_b64"].as_str().unwrap()).unwrap(), key)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), key in any::<[u8; 32]>()) {
        let _ = parse_header(&data, &Limits::default());
        prop_assert!(decrypt(&data, &key, &Limits::default()).is_err());
    }

    #[test]
    fn plausible_headers_never_panic(
        version in prop_oneof![Just(1u8), Just(2u8), any::<u8>()],
        suite in prop_oneof![Just(0x0378u16), Just(0x0178), Just(0x0578), Just(0x0478), any::<u16>()],
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        key in any::<[u8; 32]>(),
    ) {
        let mut m = vec![version];
        if version == 1 { m.push(0x80); }
        m.extend_from_slice(&suite.to_be_bytes());
        m.extend_from_slice(&tail);
        let _ = parse_header(&m, &Limits::default());
        prop_assert!(decrypt(&m, &key, &Limits::default()).is_err());
    }

    #[test]
    fn mutated_real_messages_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let name = ["pg_0378_framed", "mysql_0178_framed", "pg_0578_framed_v2", "pg_0178_nonframed"][which];
        let (mut m, key) = fixture(name);
        let original = m.clone();
        for (idx, val) in edits {
            let i = idx.index(m.len());
            m[i] = val;
        }
        if do_cut {
            let c = cut.index(m.len());
            m.truncate(c);
        }
        let _ = parse_header(&m, &Limits::default());
        let r = decrypt(&m, &key, &Limits::default());
        if m != original {
            prop_assert!(r.is_err());
        }
    }
}

#[test]
fn tiny_limits_never_panic() {
    let (m, key) = fixture("pg_0378_framed");
    for n in [0usize, 1, 2, 3, 7, 64] {
        let mut l = Limits::default();
        l.max_message_bytes = n.max(m.len());
        l.max_plaintext_bytes = n;
        l.max_frames = n as u32;
        l.max_encryption_context_bytes = n;
        l.max_encryption_context_entries = n;
        l.max_encrypted_data_keys = n;
        assert!(decrypt(&m, &key, &l).is_err());
    }
}
