//! Robust statistics: median, MAD, Hampel, EWMA, and the daily histogram summaries.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::rules::baseline::DayHist;
use crate::rules::{MAD_TO_SIGMA, ewma_limit, ewma_step, hampel_outlier, mad, median};

#[test]
fn median_of_odd_even_and_empty() {
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&mut [7.0]), Some(7.0));
}

#[test]
fn mad_ignores_an_outlier_and_scales_to_sigma() {
    let values = [1.0, 2.0, 3.0, 4.0, 100.0];
    // Deviations from 3: 2, 1, 0, 1, 97 → median 1.
    assert_eq!(mad(&values, 3.0), Some(1.0));
    assert_eq!(mad(&[], 0.0), None);
    assert!((MAD_TO_SIGMA * 1.0 - 1.4826).abs() < 1e-12);
}

#[test]
fn hampel_flags_beyond_three_robust_sigmas_only() {
    let sigma = MAD_TO_SIGMA;
    assert!(hampel_outlier(100.0, 3.0, sigma, 3.0));
    assert!(!hampel_outlier(7.4, 3.0, sigma, 3.0)); // 4.4 < 4.4478
    assert!(hampel_outlier(7.5, 3.0, sigma, 3.0));
    assert!(hampel_outlier(-1.5, 3.0, sigma, 3.0));
}

#[test]
fn ewma_steps_converges_and_has_the_nist_limits() {
    assert!((ewma_step(10.0, 20.0, 0.2) - 12.0).abs() < 1e-12);
    let mut z = 0.0;
    for _ in 0..60 {
        z = ewma_step(z, 1.0, 0.2);
    }
    assert!((z - 1.0).abs() < 1e-5, "{z}");
    // 3 · 3 · √(0.2 / 1.8) = 3.
    assert!((ewma_limit(3.0, 0.2, 3.0) - 3.0).abs() < 1e-12);
    assert!((ewma_limit(1.0, 1.0, 3.0) - 3.0).abs() < 1e-12, "λ = 1 is a Shewhart chart");
}

#[test]
fn day_histogram_summaries() {
    let mut h = DayHist::new(0);
    for v in 1..=8 {
        h.add(f64::from(v), 1.0);
    }
    assert_eq!(h.count(), 8);
    assert_eq!(h.median_mad(1.0), Some((4.5, 2.0)));
    // The middle half: 3, 4, 5, 6.
    assert_eq!(h.interquartile_mean(1.0), Some(4.5));
    assert_eq!(DayHist::new(0).median_mad(1.0), None);
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// For readings on the bin grid, the histogram's median and MAD are the exact ones.
    #[test]
    fn histogram_median_and_mad_match_the_direct_ones(values in prop::collection::vec(40i32..200, 1..300)) {
        let mut h = DayHist::new(0);
        let mut v: Vec<f64> = values.iter().map(|x| f64::from(*x)).collect();
        for x in &v {
            h.add(*x, 1.0);
        }
        let m = median(&mut v).unwrap();
        let d = mad(&v, m).unwrap();
        prop_assert_eq!(h.median_mad(1.0), Some((m, d)));
    }
}
