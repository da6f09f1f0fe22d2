//! `ftp stat PATH`, `ftp rm [-r | --partial] PATH`, `ftp mkdir PATH`, `ftp mv SRC DST`,
//! `ftp partials`, `ftp df`: one request, one answer.

use crate::error::ClientError;
use crate::output;
use crate::session::Session;

/// `ftp stat PATH`.
pub async fn stat(session: &mut Session, path: &str) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    let (entry, sha256) = client.stat(path).await?;
    let shown = output::remote_shown(path);
    let text = if global.json {
        format!("{}\n", output::stat_json(&shown, &entry, sha256.as_ref()))
    } else {
        output::stat_text(&shown, &entry, sha256.as_ref())
    };
    super::print(&text)?;
    session.finish().await
}

/// `ftp rm [-r | --partial] PATH`: silent on success, like rm; with `-r`, says how many files
/// and folders went.
pub async fn rm(
    session: &mut Session,
    path: &str,
    recursive: bool,
    partial: bool,
) -> Result<(), ClientError> {
    let global = &session.global.clone();
    if recursive && partial {
        return Err(ClientError::Usage(
            "rm: -r and --partial do not go together".into(),
        ));
    }
    let client = session.client().await?;
    if recursive {
        let removed = client.remove_tree(path).await?;
        let shown = output::remote_shown(path);
        let text = if global.json {
            let json = serde_json::json!({
                "op": "rm",
                "path": shown,
                "files": removed.files,
                "folders": removed.folders,
            });
            format!("{json}\n")
        } else {
            format!(
                "removed {}: {} {}, {} {}\n",
                output::printable(&shown),
                removed.files,
                if removed.files == 1 { "file" } else { "files" },
                removed.folders,
                if removed.folders == 1 {
                    "folder"
                } else {
                    "folders"
                },
            )
        };
        super::print(&text)?;
        return session.finish().await;
    }
    if partial {
        client.remove_partial(path).await?;
    } else {
        client.remove(path).await.map_err(hint_at_recursive)?;
    }
    if global.json {
        let mut json = serde_json::json!({ "op": "rm", "path": output::remote_shown(path) });
        if partial {
            json["partial"] = true.into();
        }
        super::print(&format!("{json}\n"))?;
    }
    session.finish().await
}

/// A refusal to remove a folder that is not empty, with a hint at `rm -r`.
fn hint_at_recursive(error: ClientError) -> ClientError {
    match error {
        ClientError::Remote { kind, message } if message.contains("not empty") => {
            ClientError::Remote {
                kind,
                message: format!("{message} (rm -r removes a folder and everything in it)"),
            }
        }
        other => other,
    }
}

/// `ftp mkdir PATH`: silent on success, like mkdir -p.
pub async fn mkdir(session: &mut Session, path: &str) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    let created = client.make_dir(path).await?;
    if global.json {
        let json = serde_json::json!({
            "op": "mkdir",
            "path": output::remote_shown(path),
            "created": created,
        });
        super::print(&format!("{json}\n"))?;
    }
    session.finish().await
}

/// `ftp mv SRC DST [--force]`: silent on success, like mv.
pub async fn mv(
    session: &mut Session,
    src: &str,
    dst: &str,
    force: bool,
) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    let (from, to) = client.rename(src, dst, force).await?;
    if global.json {
        let json = serde_json::json!({
            "op": "mv",
            "from": output::remote_shown(&from),
            "to": output::remote_shown(&to),
            "result": "moved",
        });
        super::print(&format!("{json}\n"))?;
    }
    session.finish().await
}

/// `ftp partials`: one line per unfinished upload (nothing when there is none).
pub async fn partials(session: &mut Session) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    let partials = client.partials().await?;
    let mut text = String::new();
    for p in &partials {
        if global.json {
            let json = serde_json::json!({
                "op": "partial",
                "path": p.path,
                "size": p.size,
                "held": p.held,
                "age_seconds": p.age_secs,
            });
            text.push_str(&format!("{json}\n"));
        } else {
            text.push_str(&format!(
                "{}  {} of {} bytes held, last written {} ago\n",
                output::printable(&p.path),
                p.held,
                p.size,
                age(p.age_secs)
            ));
        }
    }
    super::print(&text)?;
    session.finish().await
}

/// `ftp df`: what the user stores, the quota and file limit, and what is free.
pub async fn df(session: &mut Session) -> Result<(), ClientError> {
    let global = &session.global.clone();
    let client = session.client().await?;
    let usage = client.disk_usage().await?;
    let text = if global.json {
        format!("{}\n", df_json(&usage))
    } else {
        df_text(&usage)
    };
    super::print(&text)?;
    session.finish().await
}

/// `ftp df --json`'s object.
fn df_json(usage: &ftp_proto::UsageInfo) -> serde_json::Value {
    serde_json::json!({
        "op": "df",
        "used_bytes": usage.used_bytes,
        "used_files": usage.used_files,
        "partial_bytes": usage.partial_bytes,
        "quota_bytes": usage.quota_bytes,
        "free_bytes": usage.quota_bytes.map(|quota| quota.saturating_sub(usage.used_bytes)),
        "max_files": usage.max_files,
        "free_files": usage.max_files.map(|max| max.saturating_sub(usage.used_files)),
    })
}

/// `ftp df`'s lines.
fn df_text(usage: &ftp_proto::UsageInfo) -> String {
    use ftp_proto::units::approx_bytes;
    let mut text = format!(
        "used   {} ({} bytes) in {}, {} of it in unfinished uploads\n",
        approx_bytes(usage.used_bytes),
        usage.used_bytes,
        ftp_proto::units::files(usage.used_files),
        approx_bytes(usage.partial_bytes)
    );
    match usage.quota_bytes {
        Some(quota) => text.push_str(&format!(
            "quota  {}, {} free\n",
            approx_bytes(quota),
            approx_bytes(quota.saturating_sub(usage.used_bytes))
        )),
        None => text.push_str("quota  none\n"),
    }
    match usage.max_files {
        Some(max) => text.push_str(&format!(
            "files  at most {max}, {} free\n",
            max.saturating_sub(usage.used_files)
        )),
        None => text.push_str("files  no limit\n"),
    }
    text
}

/// An age in its largest whole unit: `42s`, `5m`, `3h`, `2d`.
fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn df_shows_what_is_free() {
        let usage = ftp_proto::UsageInfo {
            used_bytes: 3 << 20,
            used_files: 4,
            partial_bytes: 1 << 20,
            quota_bytes: Some(10 << 20),
            max_files: None,
        };
        let json = super::df_json(&usage);
        assert_eq!(json["free_bytes"], 7 << 20);
        assert!(json["max_files"].is_null() && json["free_files"].is_null());
        let text = super::df_text(&usage);
        assert!(text.contains("quota  10 MiB, 7 MiB free"), "{text}");
        assert!(text.contains("files  no limit"), "{text}");
    }

    #[test]
    fn ages_are_shown_in_their_largest_unit() {
        let shown: Vec<_> = [0, 59, 60, 3599, 3600, 86400 * 3].map(super::age).into();
        assert_eq!(shown, ["0s", "59s", "1m", "59m", "1h", "3d"]);
    }
}
