//! A tree upload's whole remaining size against the user's quota, before anything is sent:
//! the files the plan sends new (less what unfinished uploads of them already hold) must fit
//! beside what the user stores (`DiskUsage`), and so must their count under the file limit.
//! Files that replace others are left to the server's own check of each upload, which knows
//! what they replace. With no quota and no file limit nothing is checked beyond the one request.

use std::collections::HashMap;

use ftp_proto::units::approx_bytes;
use ftp_proto::{ErrorKind, PartialInfo, UsageInfo};

use super::plan::Action;
use super::planned::Planned;
use crate::connection::Client;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::progress::Progress;
use crate::transfer;

/// Refuses `upload` (exit 4) when what it still needs does not fit the user's quota or file
/// limit.
pub async fn check(
    connector: &mut Connector,
    client: &mut Option<Client>,
    retries: u32,
    progress: &Progress,
    upload: &Planned,
) -> Result<(), ClientError> {
    let new_files: Vec<(String, u64)> = upload
        .plan
        .items
        .iter()
        .filter(|item| item.action == (Action::Send { replacing: false }))
        .map(|item| (upload.remote(&item.entry.path), item.entry.size))
        .collect();
    if new_files.is_empty() {
        return Ok(());
    }
    let (usage, partials) = transfer::with_retries(
        connector,
        client,
        retries,
        progress,
        "the disk usage",
        async |open: &mut Client| {
            let usage = open.disk_usage().await?;
            let partials = if usage.quota_bytes.is_some() {
                open.partials().await?
            } else {
                Vec::new()
            };
            Ok((usage, partials))
        },
    )
    .await?;
    judge(&usage, &partials, &new_files)
}

/// Whether `new_files` (remote path, size) fit beside `usage`, counting what `partials` hold.
fn judge(
    usage: &UsageInfo,
    partials: &[PartialInfo],
    new_files: &[(String, u64)],
) -> Result<(), ClientError> {
    let held: HashMap<(&str, u64), u64> = partials
        .iter()
        .map(|p| ((p.path.trim_start_matches('/'), p.size), p.held.min(p.size)))
        .collect();
    let needed: u64 = new_files
        .iter()
        .map(|(path, size)| {
            let held = held
                .get(&(path.trim_start_matches('/'), *size))
                .copied()
                .unwrap_or(0);
            size.saturating_sub(held)
        })
        .sum();
    let count = new_files.len() as u64;
    if let Some(quota) = usage.quota_bytes
        && needed > 0
        && usage.used_bytes.saturating_add(needed) > quota
    {
        return Err(ClientError::Remote {
            kind: ErrorKind::Quota,
            message: format!(
                "quota: {} of {} used, this transfer needs {} more ({count} new files); nothing was sent",
                approx_bytes(usage.used_bytes),
                approx_bytes(quota),
                approx_bytes(needed)
            ),
        });
    }
    if let Some(max) = usage.max_files
        && usage.used_files.saturating_add(count) > max
    {
        return Err(ClientError::Remote {
            kind: ErrorKind::Quota,
            message: format!(
                "quota: {} of {max} files stored, this transfer adds {count}; nothing was sent",
                usage.used_files
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_partials_hold_is_not_needed_again() {
        let usage = UsageInfo {
            used_bytes: 900,
            used_files: 3,
            partial_bytes: 400,
            quota_bytes: Some(1000),
            max_files: Some(5),
        };
        let partial = PartialInfo {
            path: "/d/a".into(),
            size: 500,
            held: 400,
            age_secs: 0,
        };
        let files = [("d/a".to_owned(), 500), ("d/b".to_owned(), 0)];
        assert!(judge(&usage, std::slice::from_ref(&partial), &files).is_ok());
        let error = judge(&usage, &[], &files).unwrap_err();
        assert_eq!(error.exit_code(), 4);
        assert!(
            error
                .to_string()
                .starts_with("quota: 900 B of 1000 B used, this transfer needs 500 B more"),
            "{error}"
        );
        let many: Vec<_> = (0..3).map(|i| (format!("f{i}"), 0)).collect();
        let error = judge(&usage, &[], &many).unwrap_err();
        assert!(error.to_string().contains("3 of 5 files"), "{error}");
    }
}
