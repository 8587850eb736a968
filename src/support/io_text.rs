//! An I/O error as the end of a sentence that names the file: what happened
//! and what to do about it, never the operating system's error number.

use std::io::ErrorKind;

/// `e` worded for a user, after `PATH: `.
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "no such file or folder; check the path".into(),
        ErrorKind::PermissionDenied => "permission denied; check the file's permissions or run as its owner".into(),
        ErrorKind::IsADirectory => "is a folder, not a file; name a file in it".into(),
        _ => {
            let text = e.to_string();
            match text.rfind(" (os error ") {
                Some(at) if text.ends_with(')') => text[..at].to_string(),
                _ => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_become_sentences_without_their_numbers() {
        let missing = std::fs::File::open("/no/such/poolcap/file").unwrap_err();
        assert_eq!(io_text(&missing), "no such file or folder; check the path");
        let folder = std::io::Error::from_raw_os_error(21);
        assert_eq!(io_text(&folder), "is a folder, not a file; name a file in it");
        let other = std::io::Error::from_raw_os_error(28);
        assert_eq!(io_text(&other), "No space left on device");
        assert_eq!(
            io_text(&std::io::Error::other("corrupt deflate stream")),
            "corrupt deflate stream"
        );
    }
}
