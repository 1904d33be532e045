//! The AWS Encryption SDK algorithm suites, as a closed table: the suite id in a header
//! decides every size and algorithm used afterwards, so an unknown id must stop parsing.

/// An AWS Encryption SDK algorithm suite (the 2-byte id in the message header).
///
/// Known so that a header can be sized and checked before any key is touched; RDS Database
/// Activity Streams write [`AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384`] (0x0378).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmSuite {
    /// 0x0014: AES-128-GCM, no key derivation (legacy).
    Aes128GcmNoKdf,
    /// 0x0046: AES-192-GCM, no key derivation (legacy).
    Aes192GcmNoKdf,
    /// 0x0078: AES-256-GCM, no key derivation (legacy).
    Aes256GcmNoKdf,
    /// 0x0114: AES-128-GCM, HKDF-SHA256.
    Aes128GcmHkdfSha256,
    /// 0x0146: AES-192-GCM, HKDF-SHA256.
    Aes192GcmHkdfSha256,
    /// 0x0178: AES-256-GCM, HKDF-SHA256.
    Aes256GcmHkdfSha256,
    /// 0x0214: AES-128-GCM, HKDF-SHA256, ECDSA P-256 (parsed, but decryption is unsupported).
    Aes128GcmHkdfSha256EcdsaP256,
    /// 0x0346: AES-192-GCM, HKDF-SHA384, ECDSA P-384.
    Aes192GcmHkdfSha384EcdsaP384,
    /// 0x0378: AES-256-GCM, HKDF-SHA384, ECDSA P-384 — what Database Activity Streams use.
    Aes256GcmHkdfSha384EcdsaP384,
    /// 0x0478: AES-256-GCM, HKDF-SHA512 with key commitment (message format version 2).
    Aes256GcmHkdfSha512Commit,
    /// 0x0578: AES-256-GCM, HKDF-SHA512 with key commitment, ECDSA P-384 (version 2).
    Aes256GcmHkdfSha512CommitEcdsaP384,
}

/// How the content key is derived from the data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kdf {
    Identity,
    HkdfSha256,
    HkdfSha384,
    /// HKDF-SHA512 with salt = message id, info = suite id || "DERIVEKEY", plus the
    /// "COMMITKEY" commitment.
    CommitSha512,
}

/// The signature algorithm of a signed suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
}

impl AlgorithmSuite {
    /// Looks up a suite by its wire id; `None` for ids that are not ESDK suites (including
    /// the S3EC and DB-ESDK ids that share the registry), so callers can reject them.
    pub fn from_id(id: u16) -> Option<Self> {
        use AlgorithmSuite::*;
        Some(match id {
            0x0014 => Aes128GcmNoKdf,
            0x0046 => Aes192GcmNoKdf,
            0x0078 => Aes256GcmNoKdf,
            0x0114 => Aes128GcmHkdfSha256,
            0x0146 => Aes192GcmHkdfSha256,
            0x0178 => Aes256GcmHkdfSha256,
            0x0214 => Aes128GcmHkdfSha256EcdsaP256,
            0x0346 => Aes192GcmHkdfSha384EcdsaP384,
            0x0378 => Aes256GcmHkdfSha384EcdsaP384,
            0x0478 => Aes256GcmHkdfSha512Commit,
            0x0578 => Aes256GcmHkdfSha512CommitEcdsaP384,
            _ => return None,
        })
    }

    /// The 2-byte wire id; it is also the first half of the HKDF info, so it binds the
    /// derived key to the suite.
    pub fn id(self) -> u16 {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmNoKdf => 0x0014,
            Aes192GcmNoKdf => 0x0046,
            Aes256GcmNoKdf => 0x0078,
            Aes128GcmHkdfSha256 => 0x0114,
            Aes192GcmHkdfSha256 => 0x0146,
            Aes256GcmHkdfSha256 => 0x0178,
            Aes128GcmHkdfSha256EcdsaP256 => 0x0214,
            Aes192GcmHkdfSha384EcdsaP384 => 0x0346,
            Aes256GcmHkdfSha384EcdsaP384 => 0x0378,
            Aes256GcmHkdfSha512Commit => 0x0478,
            Aes256GcmHkdfSha512CommitEcdsaP384 => 0x0578,
        }
    }

    /// Message format version the suite must appear in (committing suites: 2; others: 1),
    /// checked because the two header layouts differ.
    pub fn message_format_version(self) -> u8 {
        if self.is_committing() { 2 } else { 1 }
    }

    /// True for the key-committing suites (0x0478, 0x0578), whose header carries a 32-byte
    /// commitment that the reader verifies.
    pub fn is_committing(self) -> bool {
        matches!(
            self,
            AlgorithmSuite::Aes256GcmHkdfSha512Commit | AlgorithmSuite::Aes256GcmHkdfSha512CommitEcdsaP384
        )
    }

    /// True for suites that end in an ECDSA signature footer.
    pub fn is_signed(self) -> bool {
        self.signing().is_some()
    }

    /// Data key and content key length in bytes (16, 24 or 32).
    pub fn key_len(self) -> usize {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmNoKdf | Aes128GcmHkdfSha256 | Aes128GcmHkdfSha256EcdsaP256 => 16,
            Aes192GcmNoKdf | Aes192GcmHkdfSha256 | Aes192GcmHkdfSha384EcdsaP384 => 24,
            _ => 32,
        }
    }

    pub(crate) fn kdf(self) -> Kdf {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmNoKdf | Aes192GcmNoKdf | Aes256GcmNoKdf => Kdf::Identity,
            Aes128GcmHkdfSha256
            | Aes192GcmHkdfSha256
            | Aes256GcmHkdfSha256
            | Aes128GcmHkdfSha256EcdsaP256 => Kdf::HkdfSha256,
            Aes192GcmHkdfSha384EcdsaP384 | Aes256GcmHkdfSha384EcdsaP384 => Kdf::HkdfSha384,
            Aes256GcmHkdfSha512Commit | Aes256GcmHkdfSha512CommitEcdsaP384 => Kdf::CommitSha512,
        }
    }

    pub(crate) fn signing(self) -> Option<Signing> {
        use AlgorithmSuite::*;
        match self {
            Aes128GcmHkdfSha256EcdsaP256 => Some(Signing::EcdsaP256Sha256),
            Aes192GcmHkdfSha384EcdsaP384
            | Aes256GcmHkdfSha384EcdsaP384
            | Aes256GcmHkdfSha512CommitEcdsaP384 => Some(Signing::EcdsaP384Sha384),
            _ => None,
        }
    }
}
