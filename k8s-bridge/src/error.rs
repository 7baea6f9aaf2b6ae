//! Errors: every one names where the bad input is (file, document, line),
//! the object and the field.

use std::fmt;

/// Where an object came from: a file, the 1-based index of its YAML
/// document in that file and the line the document starts on.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    /// The file (as given on the command line, or joined with its directory).
    pub file: String,
    /// 1-based document index within the file.
    pub doc: usize,
    /// 1-based line the document (or the error inside it) is on.
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.doc == 0 {
            // An object from the API server: `Kind/namespace/name`.
            return write!(f, "{}", self.file);
        }
        write!(
            f,
            "{}: document {} (line {})",
            self.file, self.doc, self.line
        )
    }
}

/// A translation or input error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A document is not valid YAML/JSON or not a valid object of its kind.
    #[error("{at}: {message}")]
    Parse {
        /// Where.
        at: Source,
        /// What is wrong (for unknown fields, the field path).
        message: String,
    },
    /// An object is well-formed but its content cannot be translated.
    #[error("{at}: {kind} {name}: {field}: {message}")]
    Invalid {
        /// Where the object was read.
        at: Box<Source>,
        /// The object's kind.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
        /// The field path, e.g. `spec.ingress[0].from[1].ipBlock.cidr`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line setting is invalid.
    #[error("{flag}: {message}")]
    Config {
        /// The flag, e.g. `--cluster-subnets`.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// Talking to the Kubernetes API failed, or run mode had to stop.
    #[error("kubernetes: {message}")]
    Api {
        /// What went wrong.
        message: String,
    },
    /// Talking to the Northbound database failed.
    #[error("{remote}: {message}")]
    Nb {
        /// The remote.
        remote: String,
        /// What went wrong.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
