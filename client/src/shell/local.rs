//! The local side of the session: `lls`'s listing, and `mput`'s patterns matched against local
//! names (as a shell would have, but in the session's own rules: `*`, `?` and `[..]` in the last
//! part only, names starting with '.' only if the pattern does). Called on the main thread,
//! never on the async runtime.

use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// `lls PATH`: one line per entry, sorted: type (`d`, `-`, `l` or `?`), size, name.
pub fn listing(folder: &Path) -> Result<String, ClientError> {
    let local = |source| ClientError::Local {
        context: format!("lls: {}", folder.display()),
        source,
    };
    let meta = std::fs::symlink_metadata(folder).map_err(local)?;
    if !meta.is_dir() {
        return Ok(line(&meta, &folder.display().to_string()));
    }
    let mut entries: Vec<(String, std::fs::Metadata)> = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(local)? {
        let entry = entry.map_err(local)?;
        if let Ok(meta) = entry.metadata() {
            entries.push((entry.file_name().to_string_lossy().into_owned(), meta));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .iter()
        .map(|(name, meta)| line(meta, name))
        .collect())
}

/// One `lls` line.
fn line(meta: &std::fs::Metadata, name: &str) -> String {
    let kind = if meta.is_dir() {
        'd'
    } else if meta.is_symlink() {
        'l'
    } else if meta.is_file() {
        '-'
    } else {
        '?'
    };
    format!(
        "{kind} {:>12}  {}\n",
        meta.len(),
        crate::output::printable(name)
    )
}

/// Whether `text` holds a pattern character.
fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// `mput`'s patterns as the regular files they match (a name without a pattern stays as it
/// is, for put to judge); a pattern matching nothing is an error.
pub fn matches(patterns: &[String]) -> Result<Vec<PathBuf>, ClientError> {
    let mut paths = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !has_glob(&name) {
            paths.push(path.to_path_buf());
            continue;
        }
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let matcher = globset::GlobBuilder::new(&name)
            .literal_separator(true)
            .build()
            .map_err(|error| ClientError::Usage(format!("mput: {pattern:?}: {error}")))?
            .compile_matcher();
        let read = std::fs::read_dir(&folder).map_err(|source| ClientError::Local {
            context: format!("mput: {}", folder.display()),
            source,
        })?;
        let mut found: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|file| !file.starts_with('.') || name.starts_with('.'))
            .filter(|file| matcher.is_match(file))
            .map(|file| {
                if folder == Path::new(".")
                    && path.parent().is_none_or(|p| p.as_os_str().is_empty())
                {
                    PathBuf::from(file)
                } else {
                    folder.join(file)
                }
            })
            .collect();
        if found.is_empty() {
            return Err(ClientError::Usage(format!(
                "mput: no local file matches {}",
                crate::output::printable(pattern)
            )));
        }
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_regular_files_in_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a b.txt", "c.txt", ".hidden.txt", "d.log"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("e.txt")).unwrap();
        let pattern = format!("{}/*.txt", dir.path().display());
        let found = matches(&[pattern]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a b.txt", "c.txt"]);
        assert!(matches(&[format!("{}/*.none", dir.path().display())]).is_err());
        let listed = listing(dir.path()).unwrap();
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with("d ") && l.ends_with("  e.txt")),
            "{listed}"
        );
        assert!(listed.contains("-            1  a b.txt"), "{listed}");
    }
}
