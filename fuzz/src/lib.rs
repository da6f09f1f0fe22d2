//! What the `session` fuzz target and the seed generator (`examples/make_seeds.rs`) must agree
//! on: the fuzz users, the first byte that picks where the fuzz bytes start, and the files every
//! session finds in its home.

use ftp_proto::FileIdentity;

/// Password of both fuzz users.
pub const PASSWORD: &str = "fuzz-password";

/// A user who may write; its home is [`HOME`].
pub const USER: &str = "fuzz";

/// A read-only user sharing the same home.
pub const READ_ONLY_USER: &str = "ro";

/// The home folder of both users, beneath the root.
pub const HOME: &str = "fuzz";

/// First byte of a `session` input: its low two bits say where the fuzz bytes take over.
pub mod stage {
    /// From the start: the fuzz bytes must answer the server's hello themselves.
    pub const RAW: u8 = 0;
    /// After a valid hello and key proof: the fuzz bytes start with the login.
    pub const AFTER_HELLO: u8 = 1;
    /// After a valid login (2 or 3): the fuzz bytes are commands.
    pub const AFTER_LOGIN: u8 = 2;
    /// With [`AFTER_LOGIN`], this bit logs in as the read-only user.
    pub const READ_ONLY: u8 = 4;
}

/// A small text file at the top of the home.
pub const FILE_A: &str = "a.txt";

/// Contents of [`FILE_A`].
pub const FILE_A_DATA: &[u8] = b"hello, fuzz\n";

/// A folder holding [`FILE_B`].
pub const DIR_D: &str = "d";

/// A larger binary file inside [`DIR_D`].
pub const FILE_B: &str = "d/b.bin";

/// Contents of [`FILE_B`]: 5000 bytes of a fixed pattern.
pub fn file_b_data() -> Vec<u8> {
    (0..5000u32)
        .map(|i| (i.wrapping_mul(31) % 251) as u8)
        .collect()
}

/// A symbolic link to [`FILE_A`], inside the home.
pub const LINK_INSIDE: &str = "link";

/// A symbolic link to the `outside` folder by its absolute path (must never be followed).
pub const LINK_ABSOLUTE: &str = "escape";

/// A symbolic link to the `outside` folder by a relative path (must never be followed).
pub const LINK_RELATIVE: &str = "escape_rel";

/// Relative target of [`LINK_RELATIVE`] (the home is `<tmp>/root/fuzz`, outside is `<tmp>/outside`).
pub const LINK_RELATIVE_TARGET: &str = "../../outside";

/// A symbolic link to the server's internal folder at the root (must never be followed).
pub const LINK_INTERNAL: &str = "internal";

/// Relative target of [`LINK_INTERNAL`].
pub const LINK_INTERNAL_TARGET: &str = "../.ftpd-internal";

/// The file beside the root that no session may read, change or remove.
pub const OUTSIDE_FILE: &str = "secret.txt";

/// Contents of [`OUTSIDE_FILE`].
pub const OUTSIDE_DATA: &[u8] = b"outside the root\n";

/// An upload that every session finds partly done: its remote path...
pub const RESUME_PATH: &str = "resume.bin";

/// ...its whole contents...
pub const RESUME_DATA: &[u8] = b"0123456789abcdef";

/// ...of which the server already holds this many bytes...
pub const RESUME_HELD: usize = 6;

/// ...for this local file identity (with [`USER`]).
pub fn resume_identity() -> FileIdentity {
    FileIdentity {
        size: RESUME_DATA.len() as u64,
        modified_secs: 1_700_000_000,
        modified_nanos: 5,
    }
}
