//! One module per group of figures; each `run` starts the server
//! process(es) it needs over its own folder and pushes its figures.

pub mod concurrent;
pub mod list;
pub mod load;
pub mod memory;
pub mod mirrors;
pub mod small;
pub mod transfer;
pub mod tree;
