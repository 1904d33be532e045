//! Fixtures written by the real Python `aws-encryption-sdk` (`tests/fixtures/das/make_fixtures.py`
//! at the repository root): every "ok" fixture must decrypt to the recorded plaintext, every
//! other one must fail with exactly the recorded error kind.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use laneguard_esdk::{
    AlgorithmSuite, ContentType, EsdkError, Limits, decrypt, decrypt_with_header, parse_header,
};
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};

struct Fixture {
    name: String,
    key: [u8; 32],
    message: Vec<u8>,
    sha256: Option<String>,
    expect: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load_all() -> Vec<Fixture> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let key_hex = v["data_key_hex"].as_str().unwrap();
        let mut key = [0u8; 32];
        for (i, k) in key.iter_mut().enumerate() {
            *k = u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out.push(Fixture {
            name: v["name"].as_str().unwrap().to_owned(),
            key,
            message: B64.decode(v["message_b64"].as_str().unwrap()).unwrap(),
            sha256: v["plaintext_sha256"].as_str().map(str::to_owned),
            expect: v["expect"].as_str().unwrap().to_owned(),
        });
    }
    assert!(out.len() >= 30, "fixtures missing: {}", out.len());
    out
}

fn load(name: &str) -> Fixture {
    load_all().into_iter().find(|f| f.name == name).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_fixture_gives_its_expected_outcome() {
    let mut ok = 0;
    let mut errors = 0;
    for f in load_all() {
        match (decrypt(&f.message, &f.key, &Limits::default()), f.expect.as_str()) {
            (Ok(pt), "ok") => {
                assert_eq!(Some(hex(&Sha256::digest(&pt))), f.sha256, "{}", f.name);
                ok += 1;
            }
            (Err(e), expect) if expect != "ok" => {
                assert_eq!(e.kind(), expect, "{}: {e}", f.name);
                errors += 1;
            }
            (got, expect) => panic!("{}: expected {expect}, got {got:?}", f.name),
        }
    }
    assert!(ok >= 15 && errors >= 20, "ok={ok} errors={errors}");
}

#[test]
// A fixture of known size, in a test: the capped decoder lives in laneguard-core, above this crate.
#[allow(clippy::disallowed_types)]
fn das_payloads_gunzip_to_activity_records() {
    for name in [
        "pg_0378_framed",
        "mysql_0378_framed",
        "pg_0578_framed_v2",
        "mysql_0478_nonframed_v2",
    ] {
        let f = load(name);
        let gz = decrypt(&f.message, &f.key, &Limits::default()).unwrap();
        let mut json = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut json)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["type"], "DatabaseActivityMonitoringRecord");
        let events = doc["databaseActivityEventList"].as_array().unwrap();
        assert_eq!(events[0]["type"], "heartbeat", "{name}");
        assert!(
            events.iter().filter(|e| e["type"] == "record").count() >= 3,
            "{name}"
        );
        if name.starts_with("mysql") {
            let classes: Vec<_> = events.iter().filter_map(|e| e["class"].as_str()).collect();
            assert!(classes.contains(&"MAIN") && classes.contains(&"AUX"), "{name}");
        }
    }
}

#[test]
fn kinesis_records_carry_the_same_messages() {
    for f in load_all() {
        let p = fixture_dir().join("records").join(format!("{}.json", f.name));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(v["type"], "DatabaseActivityMonitoringRecords");
        assert_eq!(v["version"], "1.2");
        let msg = B64.decode(v["databaseActivityEvents"].as_str().unwrap()).unwrap();
        assert_eq!(msg, f.message, "{}", f.name);
        assert!(!v["key"].as_str().unwrap().is_empty());
    }
}

#[test]
fn parse_header_exposes_the_encryption_context() {
    let f = load("pg_0378_framed_context");
    let h = parse_header(&f.message, &Limits::default()).unwrap();
    assert_eq!(h.version, 1);
    assert_eq!(h.suite, AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384);
    assert_eq!(h.suite.id(), 0x0378);
    assert_eq!(h.message_id.len(), 16);
    assert_eq!(h.content_type, ContentType::Framed);
    assert_eq!(h.frame_length, 128);
    assert_eq!(
        h.context_value("aws:rds:dbc-id"),
        Some("cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ")
    );
    // the public key is base64 of a 49-byte compressed P-384 point (68 characters)
    let pk = h.context_value("aws-crypto-public-key").unwrap();
    assert_eq!(pk.len(), 68);
    let keys: Vec<_> = h.encryption_context.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "writer sorts the context by key");
    assert_eq!(h.encrypted_data_keys.len(), 1);
    let edk = &h.encrypted_data_keys[0];
    assert_eq!(edk.provider_id, b"BC");
    assert_eq!(&edk.provider_info[..7], b"DataKey");
    assert_eq!(&edk.provider_info[7..15], &[0, 0, 0, 128, 0, 0, 0, 12]);
    assert_eq!(edk.provider_info.len(), 7 + 8 + 12);
    assert_eq!(edk.ciphertext.len(), 32 + 16);

    let (pt, h2) = decrypt_with_header(&f.message, &f.key, &Limits::default()).unwrap();
    assert_eq!(h, h2);
    assert!(!pt.is_empty());

    let v2 = load("pg_0578_framed_v2");
    let h = parse_header(&v2.message, &Limits::default()).unwrap();
    assert_eq!((h.version, h.suite.id(), h.message_id.len()), (2, 0x0578, 32));
    let nf = load("pg_0178_nonframed");
    let h = parse_header(&nf.message, &Limits::default()).unwrap();
    assert_eq!((h.content_type, h.frame_length), (ContentType::NonFramed, 0));
    assert!(h.context_value("aws-crypto-public-key").is_none());
}

fn limited(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

fn expect_limit(r: Result<Vec<u8>, EsdkError>, which: &str) {
    match r {
        Err(EsdkError::LimitExceeded { limit, .. }) => assert_eq!(limit, which),
        other => panic!("expected limit {which}, got {other:?}"),
    }
}

#[test]
fn limits_are_enforced_with_typed_errors() {
    let f = load("pg_0378_framed");
    let k = &f.key;
    let m = &f.message;
    expect_limit(
        decrypt(m, k, &limited(|l| l.max_message_bytes = m.len() - 1)),
        "message bytes",
    );
    expect_limit(decrypt(m, k, &limited(|l| l.max_frames = 3)), "frames");
    expect_limit(
        decrypt(m, k, &limited(|l| l.max_plaintext_bytes = 300)),
        "plaintext bytes",
    );
    expect_limit(
        decrypt(m, k, &limited(|l| l.max_encryption_context_bytes = 20)),
        "encryption context bytes",
    );
    expect_limit(
        decrypt(m, k, &limited(|l| l.max_encryption_context_entries = 0)),
        "encryption context entries",
    );
    expect_limit(
        decrypt(m, k, &limited(|l| l.max_encrypted_data_keys = 0)),
        "encrypted data keys",
    );
    // exactly at the limits passes
    let pt = decrypt(m, k, &Limits::default()).unwrap();
    let frames = u32::try_from(pt.len().div_ceil(128)).unwrap();
    let exact = limited(|l| {
        l.max_message_bytes = m.len();
        l.max_plaintext_bytes = pt.len();
        l.max_frames = frames;
    });
    assert_eq!(decrypt(m, k, &exact).unwrap(), pt);
    let nf = load("pg_0178_nonframed");
    expect_limit(
        decrypt(&nf.message, &nf.key, &limited(|l| l.max_plaintext_bytes = 10)),
        "plaintext bytes",
    );
    // the convenience constructor for larger trusted producers
    assert_eq!(decrypt(m, k, &Limits::for_message_size(1 << 20)).unwrap(), pt);
    expect_limit(decrypt(m, k, &Limits::for_message_size(100)), "message bytes");
    // parse_header is bounded too
    assert!(matches!(
        parse_header(m, &limited(|l| l.max_encrypted_data_keys = 0)),
        Err(EsdkError::LimitExceeded { .. })
    ));
}

#[test]
fn every_truncation_fails_cleanly() {
    for name in [
        "pg_0378_framed",
        "mysql_0178_framed",
        "pg_0178_nonframed",
        "pg_0578_framed_v2",
    ] {
        let f = load(name);
        for cut in 0..f.message.len() {
            let r = decrypt(&f.message[..cut], &f.key, &Limits::default());
            assert!(r.is_err(), "{name} cut at {cut} decrypted");
        }
    }
}

#[test]
fn every_single_byte_change_fails() {
    // unsigned (no ECDSA cost): flip every bit position's byte
    for name in [
        "mysql_0178_framed",
        "pg_0178_nonframed",
        "mysql_0478_nonframed_v2",
    ] {
        let f = load(name);
        for i in 0..f.message.len() {
            let mut m = f.message.clone();
            m[i] ^= 0x80;
            assert!(
                decrypt(&m, &f.key, &Limits::default()).is_err(),
                "{name} byte {i}"
            );
        }
    }
    // signed: every 7th byte
    let f = load("pg_0378_framed");
    for i in (0..f.message.len()).step_by(7) {
        let mut m = f.message.clone();
        m[i] ^= 0x01;
        assert!(
            decrypt(&m, &f.key, &Limits::default()).is_err(),
            "signed byte {i}"
        );
    }
}

#[test]
fn high_s_signatures_from_the_python_sdk_verify() {
    // aws-encryption-sdk negates s to force a 103-byte DER signature, so about half of its
    // signatures are high-S; a low-S-only verifier would reject them.
    let hi = load("pg_0378_high_s");
    let lo = load("pg_0378_low_s");
    assert!(decrypt(&hi.message, &hi.key, &Limits::default()).is_ok());
    assert!(decrypt(&lo.message, &lo.key, &Limits::default()).is_ok());
}

#[test]
fn unsorted_context_header_is_rejected_by_header_auth_not_a_panic() {
    // swapping two context entries changes the header bytes: the EDK unwrap AAD is
    // re-serialized sorted (so unwrap still works) but the header tag must fail.
    let f = load("pg_0378_framed_context");
    let h = parse_header(&f.message, &Limits::default()).unwrap();
    assert!(h.encryption_context.len() >= 3);
    let mut m = f.message.clone();
    // entries start at offset 1+1+2+16+2+2 = 24: swap the first two entries' bytes
    let e1 = {
        let kl = u16::from_be_bytes([m[24], m[25]]) as usize;
        let vl = u16::from_be_bytes([m[26 + kl], m[27 + kl]]) as usize;
        4 + kl + vl
    };
    let e2 = {
        let s = 24 + e1;
        let kl = u16::from_be_bytes([m[s], m[s + 1]]) as usize;
        let vl = u16::from_be_bytes([m[s + 2 + kl], m[s + 3 + kl]]) as usize;
        4 + kl + vl
    };
    let first = m[24..24 + e1].to_vec();
    let second = m[24 + e1..24 + e1 + e2].to_vec();
    m.splice(24..24 + e1 + e2, second.into_iter().chain(first));
    let err = decrypt(&m, &f.key, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "header_auth");
}
