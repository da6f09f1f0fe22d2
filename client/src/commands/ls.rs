//! `ftp ls [PATH]`: a table of the remote folder, or one JSON object with `--json`.

use crate::cli::GlobalArgs;
use crate::connector::Connector;
use crate::error::ClientError;
use crate::output;

/// Lists `path` on the server.
pub async fn run(global: &GlobalArgs, path: &str, recursive: bool) -> Result<(), ClientError> {
    if recursive {
        return Err(ClientError::Usage("ls -R: not built yet (issue 16)".into()));
    }
    let mut client = Connector::new(global)?.connect().await?;
    let entries = client.list(path).await?;
    let text = if global.json {
        format!(
            "{}\n",
            output::listing_json(&output::remote_shown(path), &entries)
        )
    } else {
        output::listing_table(&entries)
    };
    super::print(&text)?;
    client.quit().await
}
