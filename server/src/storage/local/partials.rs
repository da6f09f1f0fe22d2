//! Where each unfinished upload is going: a small sidecar `USER~HASH.dest` beside the partial
//! `USER~HASH.part`, holding the declared size and the remote path as the user named it
//! (`SIZE\nPATH`). Partial names are hashes, so this is how `ftp partials` lists a user's
//! unfinished uploads and `ftp rm --partial PATH` finds the one to drop. A sidecar goes with
//! its partial ([`forget_checkpoints`]); one left without its partial is swept
//! by expiry. Partials written before sidecars existed are not listed (expiry still takes them).

use std::time::SystemTime;

use ftp_proto::PartialInfo;

/// Ending of a sidecar's name.
const SIDECAR: &str = ".dest";

/// Name of the sidecar of `partial`.
fn sidecar_name(partial: &str) -> String {
    format!(
        "{}{SIDECAR}",
        partial.strip_suffix(".part").unwrap_or(partial)
    )
}

/// Records where `partial` is going. A failure (a full disk) only keeps it out of the list.
/// Blocking.
pub fn record(partials: &cap_std::fs::Dir, partial: &str, size: u64, shown: &str) {
    let write = || -> std::io::Result<()> {
        use cap_std::fs::OpenOptionsExt;
        use std::io::Write;
        let mut options = cap_std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o600);
        let mut file = partials.open_with(sidecar_name(partial), &options)?;
        file.write_all(format!("{size}\n{shown}").as_bytes())
    };
    if let Err(error) = write() {
        tracing::debug!(%error, partial, "the destination of a partial upload was not recorded");
    }
}

/// Removes the sidecar of a partial that is gone. Blocking.
pub fn forget(partials: &cap_std::fs::Dir, partial: &str) {
    let _ = partials.remove_file(sidecar_name(partial));
}

/// Whether `name` is a sidecar (expiry leaves those to [`sweep`]).
pub fn is_sidecar(name: &str) -> bool {
    name.ends_with(SIDECAR)
}

/// Removes sidecars whose partial is gone. Blocking.
pub fn sweep(partials: &cap_std::fs::Dir) -> std::io::Result<()> {
    for entry in partials.entries()? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SIDECAR)) else {
            continue;
        };
        if partials.symlink_metadata(format!("{stem}.part")).is_err() {
            let _ = partials.remove_file(&name);
        }
    }
    Ok(())
}

/// `user`'s unfinished uploads, by remote path: each with the name of its partial. Blocking.
pub fn list(
    partials: &cap_std::fs::Dir,
    user: &str,
) -> std::io::Result<Vec<(String, PartialInfo)>> {
    let prefix = format!("{user}~");
    let now = SystemTime::now();
    let mut found = Vec::new();
    for entry in partials.entries()? {
        let name = entry?.file_name();
        let Some(stem) = name
            .to_str()
            .filter(|n| n.starts_with(&prefix))
            .and_then(|n| n.strip_suffix(SIDECAR))
        else {
            continue;
        };
        let partial = format!("{stem}.part");
        let (Ok(text), Ok(meta)) = (
            partials.read_to_string(&name),
            partials.symlink_metadata(&partial),
        ) else {
            continue;
        };
        let Some((size, path)) = text
            .split_once('\n')
            .and_then(|(size, path)| Some((size.parse().ok()?, path.to_owned())))
        else {
            continue;
        };
        let age_secs = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m.into_std()).ok())
            .map_or(0, |age| age.as_secs());
        let info = PartialInfo {
            path,
            size,
            held: meta.len(),
            age_secs,
        };
        found.push((partial, info));
    }
    found.sort_by(|a, b| a.1.path.cmp(&b.1.path).then(a.0.cmp(&b.0)));
    Ok(found)
}

/// Name of the checkpoint list kept beside a partial.
pub fn checkpoint_name(partial: &str) -> String {
    format!("{}.ckpt", partial.strip_suffix(".part").unwrap_or(partial))
}

/// Removes the checkpoint list and the destination record of a partial
/// that is gone. Blocking.
pub fn forget_checkpoints(partials: &cap_std::fs::Dir, partial: &str) {
    let _ = partials.remove_file(checkpoint_name(partial));
    forget(partials, partial);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_partials_are_listed_by_path_and_orphan_sidecars_swept() {
        let dir = tempfile::tempdir().unwrap();
        let partials =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        partials.write("alice~b.part", b"12345").unwrap();
        record(&partials, "alice~b.part", 9, "/b.bin");
        partials.write("alice~a.part", b"1").unwrap();
        record(&partials, "alice~a.part", 3, "/a dir/a.bin");
        partials.write("bob~c.part", b"1").unwrap();
        record(&partials, "bob~c.part", 3, "/c.bin");
        record(&partials, "alice~gone.part", 3, "/gone.bin");
        let listed = list(&partials, "alice").unwrap();
        let shown: Vec<_> = listed
            .iter()
            .map(|(name, info)| (name.as_str(), info.path.as_str(), info.size, info.held))
            .collect();
        assert_eq!(
            shown,
            [
                ("alice~a.part", "/a dir/a.bin", 3, 1),
                ("alice~b.part", "/b.bin", 9, 5)
            ]
        );
        sweep(&partials).unwrap();
        assert!(partials.symlink_metadata("alice~gone.dest").is_err());
        assert!(partials.symlink_metadata("alice~b.dest").is_ok());
        let mode = partials.metadata("alice~b.dest").unwrap();
        assert_eq!(
            cap_std::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        forget(&partials, "alice~b.part");
        assert!(partials.symlink_metadata("alice~b.dest").is_err());
    }
}
