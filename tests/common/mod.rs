//! Helpers shared by the integration tests.

use std::path::Path;

/// Copies a directory tree, leaving out state files (each test starts without state).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().contains("state.json") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
