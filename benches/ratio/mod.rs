//! Ratios of this run's criterion estimates, printed after the benches.

/// Prints `measured / baseline` (criterion medians of this run) as a `RATIO` line.
pub fn print(group: &str, measured: &str, baseline: &str) {
    let median = |id: &str| -> Option<f64> {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
        let path = format!("{target}/criterion/{group}/{id}/new/estimates.json");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        json["median"]["point_estimate"].as_f64()
    };
    match (median(measured), median(baseline)) {
        (Some(m), Some(b)) => {
            println!("RATIO {group}: {measured} / {baseline} = {:.2}x ({m:.0} ns vs {b:.0} ns)", m / b)
        }
        _ => println!("RATIO {group}: {measured} / {baseline}: no estimates (filtered out?)"),
    }
}

/// Times `measured` and `baseline` (each a batch of work) alternately,
/// `rounds` times, and prints the median of the per-round ratios. On a
/// machine shared with other work, load that drifts over seconds moves both
/// sides of a round alike, which sequential criterion runs cannot promise.
pub fn interleaved(name: &str, rounds: usize, mut measured: impl FnMut(), mut baseline: impl FnMut()) -> f64 {
    use std::time::Instant;
    measured();
    baseline();
    let mut ratios = Vec::with_capacity(rounds);
    let (mut m_all, mut b_all) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which side goes first, too.
        let (m, b) = if round % 2 == 0 {
            let t = Instant::now();
            measured();
            let m = t.elapsed();
            let t = Instant::now();
            baseline();
            (m, t.elapsed())
        } else {
            let t = Instant::now();
            baseline();
            let b = t.elapsed();
            let t = Instant::now();
            measured();
            (t.elapsed(), b)
        };
        ratios.push(m.as_secs_f64() / b.as_secs_f64());
        m_all.push(m.as_secs_f64());
        b_all.push(b.as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(&mut ratios);
    println!(
        "RATIO interleaved {name} = {ratio:.2}x (median of {rounds} alternated rounds; median batch {:.2} ms vs {:.2} ms)",
        median(&mut m_all) * 1e3,
        median(&mut b_all) * 1e3
    );
    ratio
}
