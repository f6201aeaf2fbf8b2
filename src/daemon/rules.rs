//! A version of the rules, ready to run: the rule file read, checked and compiled (off the
//! async threads), and recorded in the store as a numbered version.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::load::{LoadError, Ready, RuleFile};
use crate::store::{StoreError, Tx};

/// A version of the rules, ready to run.
pub struct Rules {
    /// The compiled pipeline and its script.
    pub ready: Ready,
    /// Its number in the store's `rule_versions`.
    pub version: i64,
    /// The rule file.
    pub file: PathBuf,
}

impl Rules {
    /// Reads, checks and compiles the rule file (and its script: each at most `max_size`
    /// bytes), off the async threads (a large file takes a while).
    pub(crate) async fn read(file: &Path, max_size: Option<u64>) -> Result<Ready, LoadError> {
        let path = file.to_path_buf();
        // The history names a rule by the file's name and line (`web-studio.flow:97`): where the
        // daemon found the file (a temporary folder, /etc/…) is the configuration's business.
        let read = move || {
            let mut ready = RuleFile::read_at_most(&path, max_size)?.ready()?;
            if let Some(name) = path.file_name() {
                ready.plan.file = name.to_string_lossy().into_owned();
            }
            Ok(ready)
        };
        match tokio::task::spawn_blocking(read).await {
            Ok(read) => read,
            // Reading panicked or was cancelled: the rules are as unreadable as a missing file.
            Err(e) => Err(LoadError::Read {
                path: file.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    /// The pipeline's script file, if it has one (named relative to the rule file).
    pub(crate) fn script_path(&self) -> Option<PathBuf> {
        let name = self.ready.plan.script_name.as_deref()?;
        let dir = self.file.parent().unwrap_or(Path::new(""));
        Some(dir.join(name))
    }

    /// Records `ready` (read from `file`) as a version of the rules in `tx`: a new number, or the
    /// latest one again when nothing changed.
    pub(crate) async fn record(
        ready: Ready,
        file: &Path,
        tx: &mut Tx,
    ) -> Result<Rules, StoreError> {
        let version = tx
            .add_rules_version(
                &file.display().to_string(),
                &ready.text,
                ready.plan.script.as_deref(),
                Utc::now(),
            )
            .await?;
        Ok(Rules {
            ready,
            version,
            file: file.to_path_buf(),
        })
    }
}
