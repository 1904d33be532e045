//! `replay --ocsf-dir DIR`: findings as OCSF JSON lines under `DIR`, partitioned the way Security
//! Lake asks custom sources to be (`ext/<source>/region=…/accountId=…/eventDay=…/`,
//! [`laneguard_core::ocsf::lake`]), one file per partition and run, so a replay of an archive can
//! be copied to the lake's bucket as it is — and read back by `laneguard tune --compare`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use laneguard_core::finding::Finding;
use laneguard_core::ocsf::{self, lake::Partition};

/// Most partition files held open at once; past it every open file is flushed and closed (and
/// reopened for appending when its partition comes again), so a year of an organisation's
/// partitions does not run out of file descriptors.
const MAX_OPEN: usize = 64;

/// Writes findings into a partitioned directory.
pub struct LakeWriter {
    root: PathBuf,
    source: String,
    /// The file name every partition of this run gets (`laneguard-<start>-<pid>.json`): a new
    /// run never appends to another run's files.
    file_name: String,
    open: BTreeMap<String, BufWriter<File>>,
    /// Partition files written (each counted once).
    pub files: std::collections::BTreeSet<String>,
    /// Findings written.
    pub findings: u64,
    line: Vec<u8>,
}

impl LakeWriter {
    /// A writer under `root` for custom source `source`.
    pub fn new(root: &Path, source: &str) -> LakeWriter {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
        LakeWriter {
            root: root.to_path_buf(),
            source: source.to_owned(),
            file_name: format!("laneguard-{stamp}-{}.json", std::process::id()),
            open: BTreeMap::new(),
            files: std::collections::BTreeSet::new(),
            findings: 0,
            line: Vec::new(),
        }
    }

    /// Write `findings`, each to its partition's file. The error names the file.
    pub fn write(&mut self, findings: &[Finding]) -> io::Result<()> {
        for f in findings {
            let dir = Partition::of(f).dir(&self.source);
            self.line.clear();
            serde_json::to_writer(&mut self.line, &ocsf::detection_finding(f))?;
            self.line.push(b'\n');
            if !self.open.contains_key(&dir) {
                if self.open.len() >= MAX_OPEN {
                    self.flush()?;
                    self.open.clear();
                }
                let file = self.open_file(&dir)?;
                self.open.insert(dir.clone(), BufWriter::new(file));
            }
            let path = self.path(&dir);
            if let Some(out) = self.open.get_mut(&dir) {
                out.write_all(&self.line).map_err(|e| with_path(e, &path))?;
            }
            self.findings += 1;
        }
        Ok(())
    }

    /// Flush every open file (at the end of each input stream: a checkpointed object's findings
    /// are on disk before the checkpoint names it).
    pub fn flush(&mut self) -> io::Result<()> {
        for (dir, out) in &mut self.open {
            out.flush()
                .map_err(|e| with_path(e, &self.root.join(dir).join(&self.file_name)))?;
        }
        Ok(())
    }

    fn path(&self, dir: &str) -> PathBuf {
        self.root.join(dir).join(&self.file_name)
    }

    fn open_file(&mut self, dir: &str) -> io::Result<File> {
        let path = self.path(dir);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| with_path(e, parent))?;
        }
        self.files.insert(format!("{dir}/{}", self.file_name));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| with_path(e, &path))
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
