//! The OS's errors in the store's terms: each errno the server can meet on a local disk is one
//! [`Failure`]; anything else is internal.

use rustix::io::Errno;

use super::{Failure, StorageError};

/// What an `io::Error` from the local file system means to a store's caller.
pub fn classify(error: &std::io::Error) -> StorageError {
    let failure = match Errno::from_io_error(error) {
        None => match error.kind() {
            // cap-std's refusal of a path that escapes the home carries no errno.
            std::io::ErrorKind::PermissionDenied => Failure::OutsideHome,
            std::io::ErrorKind::NotFound => Failure::NotFound,
            _ => Failure::Internal,
        },
        Some(errno) => failure_of(errno),
    };
    StorageError::new(failure, error.to_string())
}

/// The failure an errno stands for.
fn failure_of(errno: Errno) -> Failure {
    match errno {
        Errno::NOENT => Failure::NotFound,
        Errno::NOTDIR => Failure::ParentNotFolder,
        Errno::XDEV => Failure::OutsideHome,
        Errno::ACCESS | Errno::PERM => Failure::PermissionDenied,
        Errno::ROFS => Failure::ReadOnly,
        Errno::LOOP => Failure::LinkLoop,
        Errno::NAMETOOLONG => Failure::NameTooLong,
        Errno::INVAL | Errno::ILSEQ => Failure::InvalidName,
        Errno::EXIST => Failure::InTheWay,
        Errno::ISDIR => Failure::FolderInTheWay,
        Errno::NOTEMPTY => Failure::NotEmpty,
        Errno::NXIO | Errno::NODEV => Failure::Unopenable,
        Errno::MLINK => Failure::TooManyLinks,
        Errno::BUSY | Errno::TXTBSY => Failure::Busy,
        Errno::NOSPC => Failure::NoSpace,
        Errno::DQUOT => Failure::QuotaExhausted,
        Errno::MFILE | Errno::NFILE | Errno::NOMEM | Errno::AGAIN => Failure::ShortOfResources,
        _ => Failure::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_keep_their_meaning_and_the_rest_is_internal() {
        let of = |errno: Errno| classify(&std::io::Error::from(errno)).failure;
        assert_eq!(of(Errno::NOENT), Failure::NotFound);
        assert_eq!(of(Errno::NOSPC), Failure::NoSpace);
        assert_eq!(of(Errno::DQUOT), Failure::QuotaExhausted);
        assert_eq!(of(Errno::NOTEMPTY), Failure::NotEmpty);
        assert_eq!(of(Errno::IO), Failure::Internal);
        let escaped = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(classify(&escaped).failure, Failure::OutsideHome);
    }
}
