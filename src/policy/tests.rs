use super::*;
use proptest::prelude::*;

/// The card's numbers (the config's defaults), which the tests below assume:
/// escalate above 60% by 5, sustained 80% for 5 min, coverage 80%, users ×
/// 1.5, overflow × 0.5, overprovisioned below 20% for 3 months.
fn direct(counts: &[u64]) -> Vec<ServicePools> {
    counts.iter().map(|&n| ServicePools::direct(n)).collect()
}

fn params() -> PolicySettings {
    PolicySettings::default()
}

fn month(mean: f64) -> MonthEvidence {
    MonthEvidence {
        mean_utilization: mean,
        coverage: 1.0,
        saturated_seconds: 0,
        timeouts: 0,
    }
}

fn evidence(pool_size: u32, mean: f64) -> Evidence {
    Evidence {
        service: "backend".into(),
        current: PoolSize {
            pool_size,
            max_overflow: pool_size / 2,
        },
        observed_pool_size: pool_size,
        concurrent_users: None,
        max_pool_size: None,
        month: month(mean),
        earlier: vec![Some(month(mean)), Some(month(mean))],
        sustained: None,
    }
}

fn sustained(level: u32, pool_size: u32) -> SustainedEvidence {
    SustainedEvidence {
        instance: "backend-0".into(),
        start: "2026-10-05T08:10:00+01:00".into(),
        duration: 600,
        level_checked_out: level,
        pool_size,
    }
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn ceil_times_is_exact_on_decimal_factors() {
    assert_eq!(ceil_times(10, 1.5), 15);
    assert_eq!(ceil_times(25, 0.5), 13);
    assert_eq!(ceil_times(10, 1.1), 11);
    assert_eq!(ceil_times(7, 1.5), 11);
    assert_eq!(ceil_times(0, 0.5), 0);
}

#[test]
fn quiet_month_keeps_the_pool() {
    let d = decide(&evidence(20, 0.45), &params());
    assert!(!d.changes());
    assert!(d.findings.is_empty());
    assert_eq!(d.deciding, None);
}

#[test]
fn monthly_escalation_adds_one_step_and_overflow_follows() {
    let d = decide(&evidence(20, 0.62), &params());
    assert_eq!(
        d.recommended,
        PoolSize {
            pool_size: 25,
            max_overflow: 13
        }
    );
    assert_eq!(codes(&d), vec!["monthly-escalation"]);
    assert_eq!(d.deciding, Some(Code::MonthlyEscalation));
    // Exactly at the threshold is not above it.
    assert!(!decide(&evidence(20, 0.60), &params()).changes());
}

#[test]
fn sustained_high_steps_until_the_level_fits() {
    let mut e = evidence(20, 0.5);
    e.sustained = Some(sustained(30, 20));
    let d = decide(&e, &params());
    // 30 / 25 = 1.2, 30 / 30 = 1.0, 30 / 35 = 0.857, 30 / 40 = 0.75.
    assert_eq!(d.recommended.pool_size, 40);
    assert_eq!(d.recommended.max_overflow, 20);
    assert_eq!(d.deciding, Some(Code::SustainedHigh));
}

#[test]
fn rules_do_not_add_up_the_largest_wins() {
    let mut e = evidence(20, 0.7);
    e.sustained = Some(sustained(19, 20)); // needs 25
    e.month.saturated_seconds = 60; // needs 25
    let d = decide(&e, &params());
    assert_eq!(d.recommended.pool_size, 25);
    assert_eq!(codes(&d), vec!["monthly-escalation", "sustained-high", "saturation"]);
}

#[test]
fn saturation_or_timeouts_alone_raise_by_a_step() {
    let mut e = evidence(20, 0.3);
    e.month.timeouts = 3;
    let d = decide(&e, &params());
    assert_eq!(d.recommended.pool_size, 25);
    assert!(d.findings[0].message.contains("censored"));
}

#[test]
fn sizing_formula_is_a_floor() {
    let mut e = evidence(20, 0.3);
    e.concurrent_users = Some(18);
    let d = decide(&e, &params());
    assert_eq!(
        d.recommended,
        PoolSize {
            pool_size: 27,
            max_overflow: 14
        }
    );
    e.concurrent_users = Some(10);
    let d = decide(&e, &params());
    assert!(!d.changes());
    assert_eq!(d.findings[0].effect, Effect::Info);
}

#[test]
fn max_pool_size_caps_but_never_shrinks() {
    let mut e = evidence(20, 0.7);
    e.sustained = Some(sustained(40, 20));
    e.max_pool_size = Some(30);
    let d = decide(&e, &params());
    assert_eq!(d.recommended.pool_size, 30);
    assert_eq!(d.deciding, Some(Code::MaxPoolSize));
    e.max_pool_size = Some(10);
    let d = decide(&e, &params());
    assert_eq!(d.recommended.pool_size, 20);
    assert!(codes(&d).contains(&"max-pool-size"));
}

#[test]
fn low_coverage_gates_the_mean_rules() {
    let mut e = evidence(20, 0.9);
    e.month.coverage = 0.5;
    let d = decide(&e, &params());
    assert!(!d.changes());
    assert_eq!(codes(&d), vec!["insufficient-data"]);
    // Evidence of real events still counts.
    e.month.saturated_seconds = 10;
    assert_eq!(decide(&e, &params()).recommended.pool_size, 25);
}

#[test]
fn overprovisioned_is_advisory_and_needs_three_months() {
    let d = decide(&evidence(20, 0.1), &params());
    assert_eq!(codes(&d), vec!["overprovisioned"]);
    assert!(!d.changes());
    let mut e = evidence(20, 0.1);
    e.earlier[1] = None;
    assert!(decide(&e, &params()).findings.is_empty());
    e.earlier[1] = Some(month(0.3));
    assert!(decide(&e, &params()).findings.is_empty());
}

#[test]
fn steps_are_taken_from_the_observed_pool_so_applying_twice_is_stable() {
    // The month ran at 20; the pool was already raised to 25 by an earlier apply.
    let mut e = evidence(25, 0.62);
    e.observed_pool_size = 20;
    e.sustained = Some(sustained(19, 20));
    e.month.timeouts = 1;
    let d = decide(&e, &params());
    assert!(!d.changes(), "{d:?}");
    assert!(d.findings.iter().all(|f| f.candidate_pool_size == Some(25)));
    assert!(
        d.findings[0]
            .message
            .contains("pool_size 20 (the pool in effect during the month; 25 is deployed now) + 5 = 25")
    );
}

#[test]
fn budget_blocks_and_explains() {
    let db = DatabaseBudget {
        max_connections: 100,
        superuser_reserved_connections: 3,
        reserved_connections: 0,
        headroom: 5,
        other_clients: 0,
        bouncer: None,
    };
    // The card's 20 + 10 on 2 × 2 processes already needs 120 of 92.
    let plan = plan(&[evidence(20, 0.3)], &direct(&[4]), &params(), &db, &[]);
    assert!(plan.blocked());
    assert_eq!((plan.budget.required, plan.budget.limit), (120, 92));
    let f = plan.decisions[0].findings.last().unwrap();
    assert_eq!(f.code, Code::BudgetExceeded);
    assert!(
        f.message.contains("4 × 30 = 120") && f.message.contains("PgBouncer"),
        "{}",
        f.message
    );
    let plan2 = super::plan(&[evidence(20, 0.3)], &direct(&[2]), &params(), &db, &[]);
    assert!(!plan2.blocked());
    assert!(plan2.decisions[0].findings.is_empty());
}

fn arb_evidence() -> impl Strategy<Value = Evidence> {
    (
        1u32..80,
        0.0f64..1.5,
        0.0f64..=1.0,
        0i64..3600,
        0u64..5,
        prop::option::of(0u32..200),
        prop::option::of(0u32..100),
        prop::option::of(1u32..120),
        0u32..10,
    )
        .prop_map(
            |(pool, mean, coverage, saturated, timeouts, level, users, max, grown)| Evidence {
                service: "s".into(),
                current: PoolSize {
                    pool_size: pool,
                    max_overflow: pool / 2,
                },
                // The month may have run on a smaller pool than the one deployed now.
                observed_pool_size: pool.saturating_sub(grown).max(1),
                concurrent_users: users,
                max_pool_size: max,
                month: MonthEvidence {
                    mean_utilization: mean,
                    coverage,
                    saturated_seconds: saturated,
                    timeouts,
                },
                earlier: vec![Some(month(mean)), Some(month(mean))],
                sustained: level.map(|l| sustained(l, pool)),
            },
        )
}

proptest! {
    #[test]
    fn never_below_current(e in arb_evidence()) {
        let d = decide(&e, &params());
        prop_assert!(d.recommended.pool_size >= e.current.pool_size);
    }

    #[test]
    fn overflow_follows_the_factor_whenever_the_size_changes(e in arb_evidence(), factor in 0.0f64..2.0) {
        let p = PolicySettings { overflow_factor: factor, ..params() };
        let d = decide(&e, &p);
        if d.recommended.pool_size != e.current.pool_size {
            prop_assert_eq!(d.recommended.max_overflow, ceil_times(d.recommended.pool_size, factor));
        } else {
            prop_assert_eq!(d.recommended, e.current);
        }
    }

    /// More load — a higher mean, a longer saturation, more timeouts, a higher
    /// sustained level — never gives a smaller pool.
    #[test]
    fn monotone_in_load(e in arb_evidence(), dm in 0.0f64..0.5, ds in 0i64..600, dt in 0u64..3, dl in 0u32..40) {
        let mut more = e.clone();
        more.month.mean_utilization += dm;
        more.month.saturated_seconds += ds;
        more.month.timeouts += dt;
        more.sustained = match &e.sustained {
            Some(s) => Some(SustainedEvidence { level_checked_out: s.level_checked_out + dl, ..s.clone() }),
            None if dl > 0 => Some(sustained(dl, e.current.pool_size)),
            None => None,
        };
        let base = decide(&e, &params()).recommended.pool_size;
        let loaded = decide(&more, &params()).recommended.pool_size;
        prop_assert!(loaded >= base, "{loaded} < {base}");
    }

    #[test]
    fn an_unblocked_plan_stays_within_budget(es in prop::collection::vec(arb_evidence(), 1..4), max in 20u32..400, other in 0u32..20) {
        let db = DatabaseBudget { max_connections: max, superuser_reserved_connections: 3, reserved_connections: 0, headroom: 5, other_clients: other, bouncer: None };
        let pools: Vec<u64> = (0..es.len() as u64).map(|i| i % 3 + 1).collect();
        let plan = plan(&es, &direct(&pools), &params(), &db, &[]);
        let used: u64 = plan.decisions.iter().zip(&pools).map(|(d, n)| n * d.recommended.capacity()).sum::<u64>() + u64::from(other);
        prop_assert_eq!(plan.budget.required, used);
        if !plan.blocked() {
            prop_assert!(used <= u64::from(db.limit()));
        } else {
            prop_assert!(plan.decisions.iter().any(|d| d.findings.iter().any(|f| f.code == Code::BudgetExceeded)));
        }
    }
}

/// Evidence and parameters over the whole `u32` range (no config bounds): the
/// policy must still end, never go below current and never wrap.
fn arb_extreme() -> impl Strategy<Value = (Evidence, PolicySettings)> {
    let any_size = prop_oneof![
        1u32..100,
        Just(u32::MAX),
        Just(u32::MAX - 1),
        Just(1u32 << 31),
        1u32..=u32::MAX
    ];
    (
        any_size.clone(),
        any_size.clone(),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any_size.clone()),
        any_size,
        prop_oneof![Just(1e-9f64), Just(0.8), 1e-6f64..=1.0],
        prop_oneof![0.0f64..10.0, Just(10.0)],
        any::<bool>(),
    )
        .prop_map(
            |(pool, observed, level, users, max, step, threshold, factor, saturated)| {
                let e = Evidence {
                    service: "s".into(),
                    current: PoolSize {
                        pool_size: pool,
                        max_overflow: pool / 2,
                    },
                    observed_pool_size: observed,
                    concurrent_users: users,
                    max_pool_size: max,
                    month: MonthEvidence {
                        mean_utilization: 0.9,
                        coverage: 1.0,
                        saturated_seconds: i64::from(saturated),
                        timeouts: 0,
                    },
                    earlier: vec![Some(month(0.9)), Some(month(0.9))],
                    sustained: level.map(|l| sustained(l, observed)),
                };
                let p = PolicySettings {
                    escalate_step: step,
                    sustained_utilization: threshold,
                    overflow_factor: factor,
                    users_factor: 100.0,
                    ..params()
                };
                (e, p)
            },
        )
}

proptest! {
    /// Over the whole u32 range: decide ends (sizes are found by division, not
    /// by stepping), never goes below current, and every candidate is at least
    /// the size it was grown from (no wrap-around).
    #[test]
    fn extreme_numbers_never_loop_wrap_or_shrink((e, p) in arb_extreme()) {
        let d = decide(&e, &p);
        prop_assert!(d.recommended.pool_size >= e.current.pool_size);
        for f in &d.findings {
            if let Some(c) = f.candidate_pool_size
                && matches!(f.code, Code::MonthlyEscalation | Code::Saturation | Code::SustainedHigh)
            {
                prop_assert!(c >= e.observed_pool_size.max(1), "{:?} {c} < {}", f.code, e.observed_pool_size);
            }
        }
        if let Some(s) = &e.sustained {
            let size = d.findings.iter().find(|f| f.code == Code::SustainedHigh).and_then(|f| f.candidate_pool_size).unwrap();
            let fits = |n: u32| f64::from(s.level_checked_out) <= p.sustained_utilization * f64::from(n);
            // The smallest fitting size of the form observed + k × step, or the u32 cap.
            prop_assert!(fits(size) || size == u32::MAX || u64::from(size) + u64::from(p.escalate_step) > u64::from(u32::MAX), "{size} does not fit");
            let below = u64::from(size).checked_sub(u64::from(p.escalate_step));
            if let Some(b) = below && b >= u64::from(e.observed_pool_size.max(1)) && size != e.observed_pool_size.max(1) && size != u32::MAX {
                prop_assert!(!fits(b as u32), "{b} already fits, {size} is one step too many");
            }
        }
    }

    /// The budget over the whole range: the required sum is exact (or saturates
    /// at u64::MAX) and the guard passes only what fits.
    #[test]
    fn budget_never_wraps(
        sizes in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()), 1..5),
        other in any::<u32>(),
        max in any::<u32>(),
    ) {
        let db = DatabaseBudget { max_connections: max, superuser_reserved_connections: 3, reserved_connections: 0, headroom: 5, other_clients: other, bouncer: None };
        let decisions: Vec<Decision> = sizes.iter().map(|&(p, o, _, _)| Decision {
            service: "s".into(),
            current: PoolSize { pool_size: p, max_overflow: o },
            recommended: PoolSize { pool_size: p, max_overflow: o },
            deciding: None,
            findings: Vec::new(),
        }).collect();
        let pools: Vec<u64> = sizes.iter().map(|&(_, _, r, k)| u64::from(r) * u64::from(k)).collect();
        let budget = check_budget(&db, &direct(&pools), &decisions);
        let exact: u128 = sizes.iter().map(|&(p, o, r, k)| u128::from(r) * u128::from(k) * (u128::from(p) + u128::from(o))).sum::<u128>() + u128::from(other);
        prop_assert_eq!(u128::from(budget.required), exact.min(u128::from(u64::MAX)));
        prop_assert_eq!(budget.ok, exact <= u128::from(db.limit()));
    }
}

/// The reproduction of issue 12: a pool of 3 500 000 000 sustained at its size
/// made `decide` step past u32::MAX and loop for ever.
#[test]
fn a_huge_sustained_pool_ends() {
    let mut e = evidence(3_500_000_000, 0.9);
    e.sustained = Some(sustained(3_500_000_000, 3_500_000_000));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(decide(&e, &params()));
    });
    let d = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("decide ends within 10 s");
    assert_eq!(
        d.recommended.pool_size,
        4_375_000_000u64.min(u64::from(u32::MAX)) as u32
    );
}

/// `escalate_step = u32::MAX` once gave "pool_size 20 + 4294967295 = 19".
#[test]
fn a_huge_step_saturates() {
    let p = PolicySettings {
        escalate_step: u32::MAX,
        ..params()
    };
    let d = decide(&evidence(20, 0.9), &p);
    assert_eq!(d.recommended.pool_size, u32::MAX);
    assert!(
        d.findings[0].message.contains("= 4294967295"),
        "{}",
        d.findings[0].message
    );
}

/// `replicas = 2147483648` once wrapped the budget to `0 × 38`.
#[test]
fn the_budget_does_not_wrap() {
    let db = DatabaseBudget {
        max_connections: 237 + 8,
        superuser_reserved_connections: 3,
        reserved_connections: 0,
        headroom: 5,
        other_clients: u32::MAX,
        bouncer: None,
    };
    let plan = plan(&[evidence(25, 0.3)], &direct(&[2_147_483_648]), &params(), &db, &[]);
    assert!(plan.blocked());
    assert_eq!(plan.budget.services[0].connections, 2_147_483_648 * 37);
    assert_eq!(plan.budget.required, 2_147_483_648 * 37 + u64::from(u32::MAX));
}

/// Two services reading one file are budgeted at the pool the file will hold,
/// and block the plan when they ask for different pools.
#[test]
fn shared_targets_are_budgeted_together_and_block_when_they_differ() {
    let db = DatabaseBudget {
        max_connections: 1000,
        superuser_reserved_connections: 3,
        reserved_connections: 0,
        headroom: 5,
        other_clients: 0,
        bouncer: None,
    };
    let mut busy = evidence(20, 0.7);
    busy.service = "backend".into();
    let mut quiet = evidence(20, 0.3);
    quiet.service = "reports".into();
    let shared = [SharedTarget {
        file: "deploy/backend.env".into(),
        services: vec![0, 1],
    }];
    let p = plan(&[busy.clone(), quiet], &direct(&[4, 1]), &params(), &db, &shared);
    // backend asks for 25 + 13, reports keeps 20 + 10: the file holds one.
    assert!(p.blocked() && p.budget.ok);
    let f = p.shared_conflict().unwrap();
    assert!(f.message.contains("backend 25 + 13, reports 20 + 10"), "{}", f.message);
    // Budgeted at what the file would hold for both: 4 × 38 + 1 × 38.
    assert_eq!(p.budget.required, 4 * 38 + 38);
    let mut busy_too = busy.clone();
    busy_too.service = "reports".into();
    let p = plan(&[busy, busy_too], &direct(&[4, 1]), &params(), &db, &shared);
    assert!(!p.blocked());
    let f = p.decisions[1]
        .findings
        .iter()
        .find(|f| f.code == Code::SharedTarget)
        .unwrap();
    assert_eq!(f.effect, Effect::Advisory);
    assert!(f.message.contains("holds one pool (25 + 13)"), "{}", f.message);
}

/// Worked by hand: limit 250 − 3 − 0 − 10 = 237; other clients 12; worker at
/// 10 + 5 on 2 pools = 30; backend has 4 pools: (237 − 12 − 30) / 4 = 48
/// connections a pool; p + ceil(p / 2) ≤ 48 → p = 32 (32 + 16 = 48).
#[test]
fn headroom_is_the_largest_pool_that_fits() {
    let db = DatabaseBudget {
        max_connections: 250,
        superuser_reserved_connections: 3,
        reserved_connections: 0,
        headroom: 10,
        other_clients: 12,
        bouncer: None,
    };
    let decisions = [
        Decision {
            service: "backend".into(),
            current: PoolSize {
                pool_size: 20,
                max_overflow: 10,
            },
            recommended: PoolSize {
                pool_size: 25,
                max_overflow: 13,
            },
            deciding: None,
            findings: Vec::new(),
        },
        Decision {
            service: "worker".into(),
            current: PoolSize {
                pool_size: 10,
                max_overflow: 5,
            },
            recommended: PoolSize {
                pool_size: 10,
                max_overflow: 5,
            },
            deciding: None,
            findings: Vec::new(),
        },
    ];
    assert_eq!(headroom(&db, &direct(&[4, 2]), &decisions, 0, 0.5, None), Some(32));
    assert_eq!(headroom(&db, &direct(&[4, 2]), &decisions, 0, 0.5, Some(30)), Some(30));
    // worker: (237 − 12 − 4 × 38) / 2 = 36 a pool → p + ceil(p/2) ≤ 36 → 24.
    assert_eq!(headroom(&db, &direct(&[4, 2]), &decisions, 1, 0.5, None), Some(24));
    // Nothing fits when the others already take the budget.
    assert_eq!(headroom(&db, &direct(&[400, 2]), &decisions, 1, 0.5, None), None);
}

proptest! {
    /// The headroom fits the budget, and one more connection would not.
    #[test]
    fn headroom_is_tight(max in 50u32..2000, others in 0u32..40, pools in 1u64..8, factor in 0.0f64..2.0) {
        let db = DatabaseBudget { max_connections: max, superuser_reserved_connections: 3, reserved_connections: 0, headroom: 5, other_clients: others, bouncer: None };
        let d = |size: u32| Decision {
            service: "s".into(),
            current: PoolSize { pool_size: size, max_overflow: size / 2 },
            recommended: PoolSize { pool_size: size, max_overflow: size / 2 },
            deciding: None,
            findings: Vec::new(),
        };
        let decisions = [d(5), d(7)];
        let with = |p: u32| {
            let mut ds = decisions.clone();
            ds[0].recommended = PoolSize { pool_size: p, max_overflow: ceil_times(p, factor) };
            check_budget(&db, &direct(&[pools, 2]), &ds).ok
        };
        match headroom(&db, &direct(&[pools, 2]), &decisions, 0, factor, None) {
            Some(p) => { prop_assert!(with(p)); prop_assert!(!with(p + 1)); }
            None => prop_assert!(!with(1)),
        }
    }
}

mod queueing {
    use super::*;
    use crate::analyze::study::{Calibration, Measured, QueueingStudy, SizeOutcome};

    fn outcome(size: PoolSize, timeouts: u64) -> SizeOutcome {
        SizeOutcome {
            pool_size: size.pool_size,
            max_overflow: size.max_overflow,
            checkouts: 1_000_000,
            timeouts,
            p_timeout: timeouts as f64 / 1e6,
            p_wait: 0.01,
            wait_p50_ms: 0.0,
            wait_p95_ms: 0.0,
            wait_p99_ms: 12.5,
            saturated_seconds: 0.0,
            peak_in_use: 30,
        }
    }

    fn size(p: u32) -> PoolSize {
        PoolSize {
            pool_size: p,
            max_overflow: ceil_times(p, 0.5),
        }
    }

    fn study(current: (u32, u64), recommended: (u32, u64), target: f64) -> QueueingStudy {
        let (c, r) = (
            outcome(size(current.0), current.1),
            outcome(size(recommended.0), recommended.1),
        );
        let mut candidates = vec![c.clone(), r.clone()];
        candidates.sort_by_key(|x| x.pool_size);
        candidates.dedup_by_key(|x| x.pool_size);
        QueueingStudy {
            hours: "busiest:24".into(),
            instance_hours: 24,
            instances: 4,
            hold_seconds: 0.1,
            hold_source: "policy.hold_time_seconds".into(),
            timeout_seconds: 30.0,
            target,
            seed: 1,
            dispersion: Some(0.5),
            smallest_meeting_target: candidates.iter().find(|x| x.p_timeout <= target).map(SizeOutcome::size),
            above_target: r.p_timeout > target,
            current: c,
            recommended: r,
            candidates,
            calibration: Calibration {
                measured: Measured::default(),
                simulated: Measured::default(),
            },
            unsimulated_peak: None,
            disagreement: None,
        }
    }

    fn decision(current: u32, recommended: u32) -> Decision {
        Decision {
            service: "backend".into(),
            current: size(current),
            recommended: size(recommended),
            deciding: (recommended != current).then_some(Code::MonthlyEscalation),
            findings: Vec::new(),
        }
    }

    proptest! {
        /// The queueing finding informs and never decides: it proposes no
        /// size, and is advisory exactly when the recommended pool's simulated
        /// P(timeout) is above the target.
        #[test]
        fn queueing_finding_follows_the_simulation(
            pool in 1u32..200,
            extra in 0u32..50,
            current_timeouts in 0u64..1000,
            recommended_timeouts in 0u64..1000,
            target in 1e-7f64..1e-2,
        ) {
            let q = study((pool, current_timeouts), (pool + extra, recommended_timeouts), target);
            let f = super::super::evidence::queueing_finding(&q);
            prop_assert_eq!(f.code, Code::Queueing);
            prop_assert_eq!(f.candidate_pool_size, None);
            let expected = if recommended_timeouts as f64 / 1e6 > target { Effect::Advisory } else { Effect::Info };
            prop_assert_eq!(f.effect, expected);
            let recommended = format!("{} + {}", pool + extra, ceil_times(pool + extra, 0.5));
            prop_assert!(f.message.contains(&recommended));
        }
    }

    #[test]
    fn the_report_says_why_when_model_and_policy_disagree() {
        use super::super::evidence::queueing_disagreement;
        // The policy raises a pool the simulation finds already fine.
        let q = study((20, 0), (25, 0), 1e-4);
        let why = queueing_disagreement(&q, &decision(20, 25)).unwrap();
        assert!(why.contains("raises 20 + 10 to 25 + 13 by monthly-escalation"), "{why}");
        assert!(why.contains("already under queue_target"), "{why}");
        // The recommended size still times out.
        let q = study((20, 900), (20, 900), 1e-4);
        let why = queueing_disagreement(&q, &decision(20, 20)).unwrap();
        assert!(why.contains("still times out at the recommended 20 + 10"), "{why}");
        assert!(why.contains("no simulated size meets it"), "{why}");
        // The simulation needs less than the policy asks for.
        let mut q = study((20, 900), (40, 0), 1e-4);
        q.smallest_meeting_target = Some(size(25));
        let why = queueing_disagreement(&q, &decision(20, 40)).unwrap();
        assert!(
            why.contains("finds 25 + 13 the smallest size under queue_target, below the recommended 40 + 20"),
            "{why}"
        );
        // Agreement: the current pool times out, the recommended one does not.
        let q = study((20, 900), (40, 0), 1e-4);
        assert_eq!(queueing_disagreement(&q, &decision(20, 40)), None);
        // Keep, and no timeouts: nothing to say.
        let q = study((20, 0), (20, 0), 1e-4);
        assert_eq!(queueing_disagreement(&q, &decision(20, 20)), None);
    }
}

mod pgbouncer {
    use super::*;
    use crate::model::bouncer::{Bouncer, BouncerDatabase, Route};

    fn decision(service: &str, pool_size: u32, max_overflow: u32) -> Decision {
        let size = PoolSize {
            pool_size,
            max_overflow,
        };
        Decision {
            service: service.into(),
            current: size,
            recommended: size,
            deciding: None,
            findings: Vec::new(),
        }
    }

    fn via(count: u64, database: &str, user: &str) -> ServicePools {
        ServicePools {
            count,
            route: Route::Pgbouncer {
                database: database.into(),
                user: user.into(),
            },
        }
    }

    /// The hand-worked sample of docs/pgbouncer.md: PostgreSQL 100 − 3 − 0 −
    /// 5 = 92 with 2 other clients; PgBouncer max_client_conn 200 − 10
    /// headroom = 190 with 5 other clients; database `app` pool_size 30,
    /// reserve 5, max_db_connections 50.
    fn sample() -> DatabaseBudget {
        let mut b = Bouncer::defaults("pgbouncer.ini");
        b.max_client_conn = 200;
        b.headroom = 10;
        b.other_clients = 5;
        b.reserve_pool_size = 5;
        b.databases.insert(
            "app".into(),
            BouncerDatabase {
                pool_size: Some(30),
                max_db_connections: Some(50),
                ..BouncerDatabase::default()
            },
        );
        DatabaseBudget {
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            headroom: 5,
            other_clients: 2,
            bouncer: Some(b),
        }
    }

    /// backend 6 pools × (20 + 10) and worker 2 × (5 + 3) through PgBouncer,
    /// reports 1 × (4 + 2) direct.
    /// Clients: 180 + 16 + 5 = 201 > 190. Server pools app/backend and
    /// app/worker: 35 each = 70, capped at 50 by max_db_connections.
    /// Database: 6 + 50 + 2 = 58 ≤ 92 (the old one-sided guard said 204).
    #[test]
    fn both_sides_are_checked_with_their_arithmetic() {
        let db = sample();
        let pools = [
            via(6, "app", "backend"),
            via(2, "app", "worker"),
            ServicePools::direct(1),
        ];
        let decisions = [
            decision("backend", 20, 10),
            decision("worker", 5, 3),
            decision("reports", 4, 2),
        ];
        let b = check_budget(&db, &pools, &decisions);
        assert_eq!((b.required, b.limit), (58, 92));
        assert_eq!(
            b.arithmetic(),
            "1 × 6 + 50 (PgBouncer's server pools: 30 + 5, 30 + 5, within max_db_connections 50 for app (its pools 70)) + 2"
        );
        let p = b.pgbouncer.as_ref().unwrap();
        assert_eq!((p.client_required, p.client_limit, p.clients_ok), (201, 190, false));
        assert_eq!(b.client_arithmetic().unwrap(), "6 × 30 + 2 × 8 + 5");
        assert_eq!(p.server_connections, 50);
        assert_eq!(p.caps, ["max_db_connections 50 for app (its pools 70)"]);
        assert!(!b.ok);
        let breaches = b.breaches();
        assert_eq!(breaches.len(), 1);
        assert_eq!(breaches[0].side, BudgetSide::PgbouncerClients);
        assert!(
            breaches[0]
                .message
                .contains("need 6 × 30 + 2 × 8 + 5 = 201 client connections but PgBouncer allows 190 (200 max_client_conn − 10 headroom"),
            "{}",
            breaches[0].message
        );
        // Room: backend (190 − 16 − 5) / 6 = 28 a pool → 18 + 9; reports
        // has 92 − 50 − 2 = 40 → 26 + 13, but the client side is over
        // whatever reports takes.
        assert_eq!(headroom(&db, &pools, &decisions, 0, 0.5, None), Some(18));
        assert_eq!(headroom(&db, &pools, &decisions, 2, 0.5, None), None);
        assert!(b.fits(0, 6 * 27) && !b.fits(0, 6 * 29));
    }

    /// The breach lands on the routed service that grows, with its side.
    #[test]
    fn the_plan_blocks_on_the_client_side() {
        let db = sample();
        let pools = [via(6, "app", "backend"), ServicePools::direct(1)];
        let mut busy = evidence(20, 0.7);
        busy.current.max_overflow = 10;
        let mut quiet = evidence(4, 0.3);
        quiet.service = "reports".into();
        let p = plan(&[busy, quiet], &pools, &params(), &db, &[]);
        // backend: 20 → 25 + 13 = 38 a pool, 6 × 38 + 5 = 233 > 190.
        assert!(p.blocked());
        let f = p.decisions[0]
            .findings
            .iter()
            .find(|f| f.code == Code::BudgetExceeded)
            .unwrap();
        assert!(
            f.message.contains("6 × 38 + 5 = 233 client connections"),
            "{}",
            f.message
        );
        assert!(matches!(
            f.evidence,
            FindingEvidence::BudgetExceeded {
                side: BudgetSide::PgbouncerClients,
                required: 233,
                limit: 190,
                ..
            }
        ));
        assert!(!codes(&p.decisions[1]).contains(&"budget-exceeded"));
        // The database side is the server pools, whatever the routed pools ask.
        assert_eq!(p.budget.required, 6 + 2 + 35);
    }

    /// Session mode: each client connection holds a server connection, so
    /// 2 × (10 + 5) = 30 clients on a server pool of 10 + 0 wait.
    #[test]
    fn session_mode_pools_that_clients_outgrow_are_reported() {
        let mut db = sample();
        let b = db.bouncer.as_mut().unwrap();
        b.reserve_pool_size = 0;
        b.default_pool_size = 10;
        let pools = [via(2, "web", "web")];
        let mut e = evidence(10, 0.3);
        e.current.max_overflow = 5;
        let p = plan(&[e], &pools, &params(), &db, &[]);
        let f = p.decisions[0]
            .findings
            .iter()
            .find(|f| f.code == Code::PgbouncerPool)
            .expect("a pgbouncer-pool finding");
        assert_eq!(f.effect, Effect::Advisory);
        assert!(f.message.contains("30 client connections"), "{}", f.message);
        assert!(
            f.message.contains("the server pool has 10 (10 + 0 reserve)"),
            "{}",
            f.message
        );
        // In transaction mode the same pools multiplex: no finding.
        db.bouncer.as_mut().unwrap().pool_mode = crate::model::bouncer::PoolMode::Transaction;
        let mut e = evidence(10, 0.3);
        e.current.max_overflow = 5;
        let p = plan(&[e], &pools, &params(), &db, &[]);
        assert!(!codes(&p.decisions[0]).contains(&"pgbouncer-pool"));
    }

    fn stats(mean: f64, waiting: i64, episode: Option<(i64, u64)>) -> crate::analyze::bouncer::PoolStats {
        crate::analyze::bouncer::PoolStats {
            database: "app".into(),
            user: "backend".into(),
            samples: 44_640,
            covered_seconds: 2_678_400,
            coverage: 1.0,
            mean_sv_active: mean,
            max_sv_active: 35,
            peak_demand: episode.map_or(30, |(_, d)| d),
            waiting_seconds: waiting,
            max_cl_waiting: 4,
            max_wait_seconds: 3.0,
            longest_waiting: episode.map(|(seconds, peak_demand)| crate::analyze::bouncer::WaitingEpisode {
                start: 0,
                seconds,
                peak_waiting: 4,
                peak_demand,
            }),
            observed_pool_size: None,
        }
    }

    /// The sample's pool app/backend is 30 + 5 (database app, max 50).
    /// Mean 21 busy of 30 = 70% > 60%: 30 + 5 = 35. A 10-minute wait with
    /// 44 wanted: 35 → 44/35 = 126%, 40 → 110%, 45 → 98%, 50 → 88%,
    /// 55 → 80% ≤ 80%: 55. Brief waits only: 35.
    #[test]
    fn server_pools_follow_the_policy() {
        let db = sample();
        let pools = [via(6, "app", "backend")];
        let decisions = [decision("backend", 20, 10)];
        let d = pool_decisions(vec![stats(21.0, 0, None)], &db, &pools, &decisions, &params());
        assert_eq!((d[0].current, d[0].reserve, d[0].recommended), (30, 5, 35));
        assert!((d[0].mean_utilization - 0.7).abs() < 1e-12);
        assert_eq!(d[0].findings[0].code, Code::MonthlyEscalation);
        let d = pool_decisions(
            vec![stats(10.0, 600, Some((600, 44)))],
            &db,
            &pools,
            &decisions,
            &params(),
        );
        assert_eq!(d[0].recommended, 55);
        assert_eq!(d[0].findings[0].code, Code::SustainedHigh);
        let d = pool_decisions(
            vec![stats(10.0, 120, Some((60, 33)))],
            &db,
            &pools,
            &decisions,
            &params(),
        );
        assert_eq!((d[0].recommended, d[0].findings[0].code), (35, Code::Saturation));
        let d = pool_decisions(vec![stats(5.0, 0, None)], &db, &pools, &decisions, &params());
        assert_eq!(
            (d[0].recommended, d[0].findings.len()),
            (30, 0),
            "never shrinks, nothing to say"
        );
        // Measured at 25 (the file now says 30): 21 of 25 = 84% → 25 + 5 = 30,
        // which the file already holds: applying twice changes nothing.
        let mut measured = stats(21.0, 0, None);
        measured.observed_pool_size = Some(25);
        let d = pool_decisions(vec![measured], &db, &pools, &decisions, &params());
        assert_eq!((d[0].current, d[0].recommended, d[0].changes()), (30, 30, false));
        assert!((d[0].mean_utilization - 0.84).abs() < 1e-12);
    }

    /// Grown past max_db_connections: the cap is named. Grown past the
    /// database: blocked. The database budget is 92 with 2 other clients;
    /// without a cap, app/backend at 55 + 5 = 60 and app/worker at 55 + 5
    /// (one pool_size per database) = 120 + 2 > 92.
    #[test]
    fn grown_server_pools_meet_the_caps_and_the_budget() {
        let mut db = sample();
        let pools = [via(6, "app", "backend"), via(2, "app", "worker")];
        let decisions = [decision("backend", 20, 10), decision("worker", 5, 3)];
        let waiting = || stats(10.0, 600, Some((600, 44)));
        let d = pool_decisions(vec![waiting()], &db, &pools, &decisions, &params());
        assert!(
            d[0].findings.iter().any(|f| f.code == Code::PgbouncerPool
                && f.message.contains("max_db_connections 50 for app (its pools 120)")),
            "{:?}",
            d[0].findings
        );
        db.bouncer
            .as_mut()
            .unwrap()
            .databases
            .get_mut("app")
            .unwrap()
            .max_db_connections = Some(0);
        db.bouncer.as_mut().unwrap().max_client_conn = 1000;
        let d = pool_decisions(vec![waiting()], &db, &pools, &decisions, &params());
        let block = d[0]
            .findings
            .iter()
            .find(|f| f.code == Code::BudgetExceeded)
            .expect("blocked by the budget");
        assert_eq!(block.effect, Effect::Block);
        assert!(
            block
                .message
                .contains("= 122 connections at the database, but the budget is 92"),
            "{}",
            block.message
        );
        let mut plan = Plan {
            decisions: decisions.to_vec(),
            budget: check_budget(&db, &pools, &decisions),
            pgbouncer_pools: Vec::new(),
        };
        assert!(!plan.blocked(), "the pools as they are fit");
        plan.pgbouncer_pools = d;
        assert!(plan.blocked(), "the grown server pools do not");
    }

    proptest! {
        /// Behind PgBouncer the database side does not depend on the routed
        /// pools' sizes, and a routed service's headroom is tight on the
        /// client side.
        #[test]
        fn routed_pools_count_on_the_client_side(size in 1u32..60, count in 1u64..10, max_client in 50u32..3000) {
            let mut db = sample();
            db.bouncer.as_mut().unwrap().max_client_conn = max_client;
            let pools = [via(count, "app", "backend"), ServicePools::direct(1)];
            let small = [decision("backend", 1, 1), decision("reports", 4, 2)];
            let big = [decision("backend", size, size / 2), decision("reports", 4, 2)];
            prop_assert_eq!(check_budget(&db, &pools, &small).required, check_budget(&db, &pools, &big).required);
            if let Some(p) = headroom(&db, &pools, &big, 0, 0.5, None) {
                let at = |p: u32| [decision("backend", p, ceil_times(p, 0.5)), decision("reports", 4, 2)];
                prop_assert!(check_budget(&db, &pools, &at(p)).ok);
                prop_assert!(!check_budget(&db, &pools, &at(p + 1)).ok);
            }
        }
    }
}
