//! The queue tables, their natural keys and their columns at each version.
