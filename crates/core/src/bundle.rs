//! Configuration bundles: the policy and the rules as deploy-time data.
//!
//! A bundle is the layout `--policy` / `--rules` read — `policy.toml` beside a `rules/` directory
//! of `*.toml` (and Sigma `*.yml`/`*.yaml`) rule files — either as a directory or packed in one
//! tar archive (gzip or not) that can live in S3 as a versioned object. The functions load it at
//! start-up and the CLI reads the same bundle (`--config`), so `validate`, `test`, `tune` and
//! `replay` see exactly what production runs.
//!
//! Reading a bundle is strict and bounded: an archive is decompressed through the one capped
//! decoder, entries are counted and size-limited, a path that escapes the bundle (`..`, absolute)
//! or a link is an error, and a bundle without a policy is an error — never a fallback to the
//! example policy. What is neither the policy nor a rule file (a README, a CI script) is listed
//! in [`Bundle::ignored`], not loaded.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::config::{PolicySource, RulesSource, Sources};
use crate::envelope::decode;

/// Caps on what a bundle may hold.
#[derive(Clone, Copy, Debug)]
pub struct BundleLimits {
    /// Largest archive (compressed) or directory total, in bytes.
    pub max_bytes: u64,
    /// Largest decompressed archive.
    pub max_unpacked: u64,
    /// Largest single file.
    pub max_file: u64,
    /// Most entries.
    pub max_entries: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits {
            max_bytes: 32 << 20,
            max_unpacked: 64 << 20,
            max_file: 16 << 20,
            max_entries: 10_000,
        }
    }
}

/// A bundle that could not be read, with what to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration bundle {origin}: {reason}")]
pub struct BundleError {
    /// The bundle (path or URI), and the entry when the problem is one entry.
    pub origin: String,
    /// What is wrong.
    pub reason: String,
}

/// A bundle read into memory: the texts of its policy and rule files, named
/// `<bundle origin>:<path inside the bundle>` so every later error points into the bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// Where the bundle came from (path or URI, with an S3 version when known).
    pub origin: String,
    /// `policy.toml`.
    pub policy: String,
    /// `rules/*`: (origin, text), sorted by path.
    pub rules: Vec<(String, String)>,
    /// Entries that are neither the policy nor a rule file (not loaded).
    pub ignored: Vec<String>,
}

/// A rule file of a bundle: `rules/<name>.toml|yml|yaml` (not nested deeper).
fn is_rule_path(path: &str) -> bool {
    let Some(name) = path.strip_prefix("rules/") else {
        return false;
    };
    !name.contains('/')
        && !name.starts_with('.')
        && (name.ends_with(".toml") || name.ends_with(".yml") || name.ends_with(".yaml"))
}

/// The path of an entry relative to the bundle root: `a/b` with no `.`, `..` or root parts,
/// and without the one top-level directory archives of a directory usually carry.
fn normalize(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

impl Bundle {
    /// Collect entries into a bundle; `entries` are (path inside the bundle, text).
    fn assemble(origin: &str, entries: Vec<(String, String)>) -> Result<Bundle, BundleError> {
        // `tar czf b.tgz conf/` puts everything under `conf/`: strip one common top directory
        // when the policy is not at the root.
        let prefix = if entries.iter().any(|(p, _)| p == "policy.toml") {
            String::new()
        } else {
            let tops: Vec<&str> = entries
                .iter()
                .filter_map(|(p, _)| p.split_once('/').map(|(t, _)| t))
                .collect();
            match tops.first() {
                Some(t)
                    if tops.iter().all(|x| x == t)
                        && entries.iter().any(|(p, _)| p == &format!("{t}/policy.toml")) =>
                {
                    format!("{t}/")
                }
                _ => String::new(),
            }
        };
        let mut policy = None;
        let mut rules = Vec::new();
        let mut ignored = Vec::new();
        for (path, text) in entries {
            let rel = path.strip_prefix(&prefix).unwrap_or(&path).to_owned();
            if rel == "policy.toml" {
                policy = Some(text);
            } else if is_rule_path(&rel) {
                rules.push((format!("{origin}:{rel}"), text));
            } else {
                ignored.push(rel);
            }
        }
        let Some(policy) = policy else {
            return Err(BundleError {
                origin: origin.to_owned(),
                reason: "no policy.toml at the top of the bundle (a bundle is policy.toml beside a rules/ directory)".into(),
            });
        };
        rules.sort();
        ignored.sort();
        Ok(Bundle {
            origin: origin.to_owned(),
            policy,
            rules,
            ignored,
        })
    }

    /// Read a bundle directory: `DIR/policy.toml` and `DIR/rules/*`.
    pub fn from_dir(dir: &Path, limits: &BundleLimits) -> Result<Bundle, BundleError> {
        let origin = dir.display().to_string();
        let err = |reason: String| BundleError {
            origin: origin.clone(),
            reason,
        };
        let mut entries = Vec::new();
        let mut total = 0u64;
        let mut paths: Vec<PathBuf> = vec![dir.join("policy.toml")];
        match std::fs::read_dir(dir.join("rules")) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(|e| err(format!("rules/: {e}")))?;
                    paths.push(e.path());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(format!("rules/: {e}"))),
        }
        if paths.len() > limits.max_entries {
            return Err(err(format!("more than {} files", limits.max_entries)));
        }
        for p in paths {
            let rel = p
                .strip_prefix(dir)
                .ok()
                .and_then(normalize)
                .unwrap_or_else(|| p.display().to_string());
            let meta = match std::fs::metadata(&p) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && rel == "policy.toml" => continue,
                Err(e) => return Err(err(format!("{rel}: {e}"))),
            };
            if !meta.is_file() {
                continue;
            }
            if meta.len() > limits.max_file {
                return Err(err(format!(
                    "{rel}: {} bytes, more than {} per file",
                    meta.len(),
                    limits.max_file
                )));
            }
            total += meta.len();
            if total > limits.max_bytes {
                return Err(err(format!("more than {} bytes in all", limits.max_bytes)));
            }
            if rel == "policy.toml" || is_rule_path(&rel) {
                let text = std::fs::read_to_string(&p).map_err(|e| err(format!("{rel}: {e}")))?;
                entries.push((rel, text));
            } else {
                entries.push((rel, String::new()));
            }
        }
        Bundle::assemble(&origin, entries)
    }

    /// Read a bundle archive (tar, gzip-compressed or not) held in memory; `origin` names it in
    /// errors (`s3://bucket/key?versionId=…`, a file path).
    pub fn from_archive(bytes: &[u8], origin: &str, limits: &BundleLimits) -> Result<Bundle, BundleError> {
        let err = |reason: String| BundleError {
            origin: origin.to_owned(),
            reason,
        };
        if bytes.len() as u64 > limits.max_bytes {
            return Err(err(format!(
                "{} bytes, more than the cap of {}",
                bytes.len(),
                limits.max_bytes
            )));
        }
        let mut unpacked = Vec::new();
        let tar_bytes: &[u8] = if decode::is_gzip(bytes) {
            decode::gunzip(bytes, limits.max_unpacked, &mut unpacked)
                .map_err(|e| err(format!("gzip: {e}")))?;
            &unpacked
        } else {
            bytes
        };
        let mut archive = tar::Archive::new(tar_bytes);
        let iter = archive
            .entries()
            .map_err(|e| err(format!("not a tar archive: {e}")))?;
        let mut entries = Vec::new();
        for (n, entry) in iter.enumerate() {
            if n >= limits.max_entries {
                return Err(err(format!("more than {} entries", limits.max_entries)));
            }
            let mut entry = entry.map_err(|e| {
                if n == 0 {
                    err(format!("not a tar archive (gzip or not): {e}"))
                } else {
                    err(format!("entry #{n}: {e}"))
                }
            })?;
            let raw_path = entry
                .path()
                .map_err(|e| err(format!("entry #{n}: {e}")))?
                .into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
                continue;
            }
            let Some(path) = normalize(&raw_path) else {
                return Err(err(format!(
                    "{}: a path outside the bundle (absolute or with ..)",
                    raw_path.display()
                )));
            };
            if !kind.is_file() {
                return Err(err(format!("{path}: links and special files are not allowed")));
            }
            let size = entry.size();
            if size > limits.max_file {
                return Err(err(format!(
                    "{path}: {size} bytes, more than {} per file",
                    limits.max_file
                )));
            }
            if path == "policy.toml" || path.ends_with("/policy.toml") || path.contains("rules/") {
                let mut text = String::new();
                entry
                    .by_ref()
                    .take(limits.max_file)
                    .read_to_string(&mut text)
                    .map_err(|e| err(format!("{path}: {e}")))?;
                entries.push((path, text));
            } else {
                entries.push((path, String::new()));
            }
        }
        Bundle::assemble(origin, entries)
    }

    /// Read a bundle from a local path: a directory, or an archive file.
    pub fn from_path(path: &Path, limits: &BundleLimits) -> Result<Bundle, BundleError> {
        let err = |reason: String| BundleError {
            origin: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.is_dir() {
            return Bundle::from_dir(path, limits);
        }
        if meta.len() > limits.max_bytes {
            return Err(err(format!(
                "{} bytes, more than the cap of {}",
                meta.len(),
                limits.max_bytes
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Bundle::from_archive(&bytes, &path.display().to_string(), limits)
    }

    /// The configuration sources this bundle names (for [`crate::config::Config::load`]).
    pub fn sources(&self) -> Sources {
        Sources {
            policy: PolicySource::Text {
                origin: format!("{}:policy.toml", self.origin),
                text: self.policy.clone(),
            },
            rules: RulesSource::Files(self.rules.clone()),
            extra_rules: Vec::new(),
        }
    }

    /// Pack a bundle directory into a deterministic `tar.gz` (sorted entries, zero times and
    /// owners), so the same configuration always uploads as the same bytes.
    pub fn pack(&self) -> std::io::Result<Vec<u8>> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut files: Vec<(String, &str)> = vec![("policy.toml".to_owned(), self.policy.as_str())];
        let prefix = format!("{}:", self.origin);
        files.extend(
            self.rules
                .iter()
                .map(|(o, t)| (o.strip_prefix(&prefix).unwrap_or(o).to_owned(), t.as_str())),
        );
        for (path, text) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, &path, text.as_bytes())?;
        }
        tar.into_inner()?.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &str)], gzip: bool) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, path, text.as_bytes()).unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        if !gzip {
            return bytes;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn archives_with_or_without_a_top_directory() {
        for (files, gzip) in [
            (
                &[("policy.toml", "p"), ("rules/a.toml", "a"), ("README.md", "r")][..],
                true,
            ),
            (
                &[
                    ("conf/policy.toml", "p"),
                    ("conf/rules/a.toml", "a"),
                    ("conf/README.md", "r"),
                ][..],
                false,
            ),
        ] {
            let b =
                Bundle::from_archive(&archive(files, gzip), "s3://b/k", &BundleLimits::default()).unwrap();
            assert_eq!(b.policy, "p");
            assert_eq!(
                b.rules,
                vec![("s3://b/k:rules/a.toml".to_owned(), "a".to_owned())]
            );
            assert_eq!(b.ignored, vec!["README.md".to_owned()]);
        }
    }

    #[test]
    fn bad_bundles_are_errors_naming_the_bundle() {
        let limits = BundleLimits::default();
        let e = Bundle::from_archive(&archive(&[("rules/a.toml", "a")], true), "b.tgz", &limits).unwrap_err();
        assert!(
            e.to_string().contains("b.tgz") && e.to_string().contains("no policy.toml"),
            "{e}"
        );
        let e = Bundle::from_archive(b"not a tar at all, not gzip either....", "b.tgz", &limits).unwrap_err();
        assert!(e.to_string().contains("b.tgz"), "{e}");
        let e = Bundle::from_archive(&[0x1f, 0x8b, 0, 0], "b.tgz", &limits).unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
        let small = BundleLimits {
            max_file: 4,
            ..limits
        };
        let e = Bundle::from_archive(&archive(&[("policy.toml", "12345")], false), "b", &small).unwrap_err();
        assert!(e.to_string().contains("per file"), "{e}");
        // A bomb: 64 MiB of zeros compresses to ~64 KiB and must stop at the cap.
        let zeros = vec![0u8; 64 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
        let bomb = gz.finish().unwrap();
        let capped = BundleLimits {
            max_unpacked: 1 << 20,
            ..limits
        };
        let e = Bundle::from_archive(&bomb, "bomb.tgz", &capped).unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
    }

    #[test]
    fn paths_outside_the_bundle_are_refused() {
        assert_eq!(
            normalize(Path::new("./rules/a.toml")).as_deref(),
            Some("rules/a.toml")
        );
        assert_eq!(normalize(Path::new("../x")), None);
        assert_eq!(normalize(Path::new("/etc/passwd")), None);
        assert!(is_rule_path("rules/x.yml") && !is_rule_path("rules/sub/x.toml") && !is_rule_path("x.toml"));
    }

    #[test]
    fn pack_then_read_is_the_same_bundle_and_deterministic() {
        let b = Bundle {
            origin: "conf".into(),
            policy: "p".into(),
            rules: vec![
                ("conf:rules/a.toml".into(), "a".into()),
                ("conf:rules/b.yml".into(), "b".into()),
            ],
            ignored: Vec::new(),
        };
        let packed = b.pack().unwrap();
        assert_eq!(packed, b.pack().unwrap(), "deterministic");
        let back = Bundle::from_archive(&packed, "x", &BundleLimits::default()).unwrap();
        assert_eq!(back.policy, "p");
        assert_eq!(
            back.rules,
            vec![
                ("x:rules/a.toml".to_owned(), "a".to_owned()),
                ("x:rules/b.yml".to_owned(), "b".to_owned())
            ]
        );
    }
}
