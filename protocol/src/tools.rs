//! Names of the agent's tools that the host reasons about too, kept in one place so the guest's
//! permission facts and the host's checkpoint hook and prompts cannot drift apart.

/// Tools that write a whole document file at `file_path`, as `Write` writes a text file: the host
/// checkpoints before them and words their prompts like a file being created or replaced.
pub const DOCUMENT_WRITERS: &[&str] = &[
    "CreateSpreadsheet",
    "CreateDocument",
    "CreatePdf",
    "CreatePresentation",
];
