//! `ftp stat PATH`, `ftp rm PATH`, `ftp mkdir PATH`: one request, one answer.

use crate::cli::GlobalArgs;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output;

/// `ftp stat PATH`.
pub async fn stat(global: &GlobalArgs, path: &str) -> Result<(), ClientError> {
    let mut client = Connector::new(global)?.connect().await?;
    let (entry, sha256) = client.stat(path).await?;
    let shown = output::remote_shown(path);
    let text = if global.json {
        format!("{}\n", output::stat_json(&shown, &entry, sha256.as_ref()))
    } else {
        output::stat_text(&shown, &entry, sha256.as_ref())
    };
    super::print(&text)?;
    client.quit().await
}

/// `ftp rm PATH`: silent on success, like rm.
pub async fn rm(global: &GlobalArgs, path: &str) -> Result<(), ClientError> {
    let mut client = Connector::new(global)?.connect().await?;
    client.remove(path).await?;
    if global.json {
        let json = serde_json::json!({ "op": "rm", "path": output::remote_shown(path) });
        super::print(&format!("{json}\n"))?;
    }
    client.quit().await
}

/// `ftp mkdir PATH`: silent on success, like mkdir -p.
pub async fn mkdir(global: &GlobalArgs, path: &str) -> Result<(), ClientError> {
    let mut client = Connector::new(global)?.connect().await?;
    let created = client.make_dir(path).await?;
    if global.json {
        let json = serde_json::json!({
            "op": "mkdir",
            "path": output::remote_shown(path),
            "created": created,
        });
        super::print(&format!("{json}\n"))?;
    }
    client.quit().await
}
