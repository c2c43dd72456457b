//! CSV in and out: the push reader every job streams S3 objects through ([`reader`], on
//! `csv-core`), and the writer exports encode records with ([`writer`], the `csv` crate's).

pub mod reader;
pub mod writer;

pub use self::reader::{Record, RecordError, RecordReader};
pub use self::writer::CsvWriter;
