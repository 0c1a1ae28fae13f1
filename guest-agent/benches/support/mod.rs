//! Building blocks shared by the measurements.

pub mod model;
pub mod process;
pub mod stats;
pub mod tree;
