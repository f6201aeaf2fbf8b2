//! The `dealflow` binary run as an analyst runs it, in the repository or a scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `dealflow` in the repository, without colours.
pub fn dealflow(args: &[&str]) -> Output {
    dealflow_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs `dealflow` in `dir`, without colours.
pub fn dealflow_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

/// Output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory of this test's own, removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// An empty folder named for the test.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("dealflow-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Scratch(dir)
    }

    /// Writes a file in it (folders made as needed).
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("a folder");
        }
        std::fs::write(&p, text).expect("a file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
