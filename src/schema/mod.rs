//! Queue DB schema: embedded refinery migrations V1..V5 and the fingerprint
//! that recognises a DB's version from its columns (DESIGN §2).

pub mod tables;
