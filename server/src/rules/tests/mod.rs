//! Tests of the rules engine: unit tests per rule family, scenario tests with simulated residents
//! over simulated days (injected clock, no sleeping), and property tests.

mod bands;
mod news2;
mod props;
mod rules;
mod scenarios;
mod silence;
mod sim;
mod stats;
mod thresholds;
