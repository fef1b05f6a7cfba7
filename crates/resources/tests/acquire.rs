#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! Granting, refusing and releasing: all-or-nothing, error messages, locks, tool caps.

use std::sync::Arc;

use volley_resources::{
    AcquireError, Dimension, LockMode, Priority, Request, ResourceBackend, ResourceManager,
    TryAcquireError,
};

fn manager() -> ResourceManager {
    ResourceManager::builder()
        .max_concurrency(4)
        .cpu_cores(2.0)
        .memory_mb(1024)
        .io_slots(2)
        .tool_concurrency("check_crm", 2)
        .build()
        .unwrap()
}

fn busy(dimension: Dimension) -> TryAcquireError {
    TryAcquireError::Busy { dimension }
}

#[test]
fn each_busy_dimension_is_named() {
    let m = manager();
    let cases: Vec<(Request, Request, Dimension)> = vec![
        (
            Request::new().cpu(1.5),
            Request::new().cpu(0.75),
            Dimension::Cpu,
        ),
        (
            Request::new().memory_mb(1000),
            Request::new().memory_mb(25),
            Dimension::Memory,
        ),
        (Request::new().io(2), Request::new().io(1), Dimension::Io),
        (
            Request::new().write("db").unwrap(),
            Request::new().read("db").unwrap(),
            Dimension::Lock { key: "db".into() },
        ),
        (
            Request::new().read("db").unwrap(),
            Request::new().write("db").unwrap(),
            Dimension::Lock { key: "db".into() },
        ),
    ];
    for (first, second, dimension) in cases {
        let held = m.try_acquire(&first).unwrap();
        assert_eq!(
            m.try_acquire(&second).unwrap_err(),
            busy(dimension.clone()),
            "{dimension}"
        );
        drop(held);
        drop(m.try_acquire(&second).unwrap());
    }
    assert!(m.snapshot().is_idle());
}

#[test]
fn the_global_limit_and_tool_caps_are_enforced() {
    let m = manager();
    let crm = Request::new().tool("check_crm");
    let a = m.try_acquire(&crm).unwrap();
    let _b = m.try_acquire(&crm).unwrap();
    assert_eq!(
        m.try_acquire(&crm).unwrap_err(),
        busy(Dimension::Tool {
            tool: "check_crm".into()
        })
    );
    // Other tools are not capped; the global limit (4) is.
    let _c = m.try_acquire(&Request::new().tool("search")).unwrap();
    let _d = m.try_acquire(&Request::new()).unwrap();
    assert_eq!(
        m.try_acquire(&Request::new()).unwrap_err(),
        busy(Dimension::Global)
    );
    // A call that takes no global slot still runs.
    let _e = m.try_acquire(&Request::new().global_slot(false)).unwrap();
    drop(a);
    let _f = m.try_acquire(&crm).unwrap();
}

#[test]
fn readers_share_and_writers_exclude() {
    let m = manager();
    let read = Request::new().global_slot(false).read("f").unwrap();
    let write = Request::new().global_slot(false).write("f").unwrap();
    let r1 = m.try_acquire(&read).unwrap();
    let r2 = m.try_acquire(&read).unwrap();
    let snap = m.snapshot();
    assert_eq!(snap.locks.len(), 1);
    assert_eq!(snap.locks[0].mode, Some(LockMode::Read));
    let holders: Vec<u64> = snap.locks[0].holders.iter().map(|h| h.permit).collect();
    assert_eq!(holders, [r1.id(), r2.id()]);
    assert!(m.try_acquire(&write).is_err());
    drop((r1, r2));
    let w = m.try_acquire(&write).unwrap();
    assert_eq!(m.snapshot().locks[0].mode, Some(LockMode::Write));
    assert!(m.try_acquire(&write).is_err());
    assert!(m.try_acquire(&read).is_err());
    drop(w);
    assert!(m.snapshot().locks.is_empty());
}

#[test]
fn a_request_is_granted_whole_or_not_at_all() {
    let m = manager();
    let _b = m.try_acquire(&Request::new().write("b").unwrap()).unwrap();
    let both = Request::new()
        .cpu(1.0)
        .memory_mb(10)
        .write("a")
        .unwrap()
        .write("b")
        .unwrap();
    assert_eq!(
        m.try_acquire(&both).unwrap_err(),
        busy(Dimension::Lock { key: "b".into() })
    );
    let snap = m.snapshot();
    assert_eq!(snap.held, 1);
    assert_eq!((snap.cpu.in_use, snap.memory_mb.in_use), (0.0, 0.0));
    assert_eq!(snap.global.in_use, 1.0);
    assert_eq!(snap.locks.len(), 1, "lock a must not be held");
}

#[tokio::test]
async fn requests_larger_than_a_capacity_fail_at_once() {
    let m = manager();
    let cases = [
        (Request::new().cpu(2.5), Dimension::Cpu, 2.5, 2.0),
        (
            Request::new().memory_mb(2048),
            Dimension::Memory,
            2048.0,
            1024.0,
        ),
        (Request::new().io(3), Dimension::Io, 3.0, 2.0),
    ];
    for (request, dimension, requested, capacity) in cases {
        let expected = AcquireError::ExceedsCapacity {
            dimension,
            requested,
            capacity,
        };
        assert_eq!(m.acquire(&request).await.unwrap_err(), expected);
        assert_eq!(m.try_acquire(&request).unwrap_err(), expected.into());
    }
    let err = m.acquire(&Request::new().cpu(f64::NAN)).await.unwrap_err();
    assert!(matches!(
        err,
        AcquireError::InvalidAmount { dimension: Dimension::Cpu, value } if value.is_nan()
    ));
    assert!(
        m.acquire(&Request::new().cpu(-1.0))
            .await
            .unwrap_err()
            .to_string()
            .contains("cpu")
    );
    assert!(m.snapshot().is_idle());
}

#[tokio::test]
async fn fractional_cpu_adds_up_exactly() {
    let m = ResourceManager::builder().cpu_cores(1.0).build().unwrap();
    let tenth = Request::new().cpu(0.1);
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(m.try_acquire(&tenth).unwrap());
    }
    assert_eq!(
        m.try_acquire(&Request::new().cpu(0.000_001)).unwrap_err(),
        busy(Dimension::Cpu)
    );
    assert!((m.snapshot().cpu.in_use - 1.0).abs() < 1e-9);
    drop(held);
    assert_eq!(m.snapshot().cpu.in_use, 0.0);
}

#[tokio::test(start_paused = true)]
async fn a_release_wakes_the_waiter() {
    let m = manager();
    let w = m.try_acquire(&Request::new().write("k").unwrap()).unwrap();
    let waiter = tokio::spawn({
        let m = m.clone();
        async move {
            let p = m.acquire(&Request::new().read("k").unwrap()).await.unwrap();
            p.id()
        }
    });
    tokio::task::yield_now().await;
    let snap = m.snapshot();
    assert_eq!((snap.held, snap.waiting), (1, 1));
    assert_eq!(snap.locks[0].waiting, 1);
    drop(w);
    let id = waiter.await.unwrap();
    assert!(id > 0);
    assert!(m.snapshot().is_idle());
}

#[tokio::test]
async fn a_panicking_holder_releases_on_unwind() {
    let m = manager();
    let task = tokio::spawn({
        let m = m.clone();
        async move {
            let _p = m
                .acquire(&Request::new().cpu(2.0).write("k").unwrap())
                .await
                .unwrap();
            panic!("tool crashed");
        }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert!(m.snapshot().is_idle());
    drop(
        m.try_acquire(&Request::new().cpu(2.0).write("k").unwrap())
            .unwrap(),
    );
}

#[tokio::test]
async fn works_behind_the_trait_object() {
    let backend: Arc<dyn ResourceBackend> = Arc::new(manager());
    let request = Request::new()
        .tool("check_crm")
        .priority(Priority::High)
        .access("read:x")
        .unwrap();
    let permit = backend.acquire(&request).await.unwrap();
    let snap = backend.snapshot();
    let crm = snap.tools.iter().find(|t| t.tool == "check_crm").unwrap();
    assert_eq!((crm.in_flight, crm.max_concurrency), (1, Some(2)));
    assert_eq!(snap.locks[0].holders[0].priority, Priority::High);
    assert_eq!(snap.locks[0].holders[0].tool.as_deref(), Some("check_crm"));
    drop(backend.try_acquire(&request).unwrap());
    permit.release();
    assert!(backend.snapshot().is_idle());
}

#[test]
fn the_snapshot_serializes_for_the_progress_stream() {
    let m = manager();
    let _p = m
        .try_acquire(
            &Request::new()
                .tool("check_crm")
                .cpu(0.5)
                .write("db")
                .unwrap(),
        )
        .unwrap();
    let json = serde_json::to_value(m.snapshot()).unwrap();
    assert_eq!(json["global"]["capacity"], 4.0);
    assert_eq!(json["global"]["in_use"], 1.0);
    assert_eq!(json["cpu"]["in_use"], 0.5);
    assert_eq!(json["locks"][0]["key"], "db");
    assert_eq!(json["locks"][0]["mode"], "write");
    assert_eq!(json["locks"][0]["holders"][0]["priority"], "normal");
    assert_eq!(json["tools"][0]["tool"], "check_crm");
    assert_eq!(json["tools"][0]["in_flight"], 1);
    let back: volley_resources::Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, m.snapshot());
}

#[test]
fn unconfigured_tools_are_reported_while_in_flight() {
    let m = manager();
    let p = m.try_acquire(&Request::new().tool("search")).unwrap();
    let snap = m.snapshot();
    let search = snap.tools.iter().find(|t| t.tool == "search").unwrap();
    assert_eq!((search.in_flight, search.max_concurrency), (1, None));
    drop(p);
    assert!(!m.snapshot().tools.iter().any(|t| t.tool == "search"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_lock_orders_never_deadlock() {
    let m = ResourceManager::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    let ab = Request::new().write("A").unwrap().write("B").unwrap();
    let ba = Request::new().write("B").unwrap().write("A").unwrap();
    for _ in 0..1_000 {
        let one = tokio::spawn({
            let (m, ab) = (m.clone(), ab.clone());
            async move {
                let _p = m.acquire(&ab).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let two = tokio::spawn({
            let (m, ba) = (m.clone(), ba.clone());
            async move {
                let _p = m.acquire(&ba).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        one.await.unwrap();
        two.await.unwrap();
    }
    assert!(m.snapshot().is_idle());
}
