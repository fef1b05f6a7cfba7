#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failing test
//! proptest: random acquire / try_acquire / release / cancel sequences against the rules.
//!
//! Futures are polled only when their waker fired, so a grant without a wake-up shows up
//! as a snapshot that disagrees with what the test holds.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use proptest::prelude::*;
use volley_resources::{
    AcquireError, LockMode, Permit, Priority, Request, ResourceManager, TryAcquireError,
};

const GLOBAL: usize = 3;
const CPU: f64 = 2.0;
const MEMORY: u64 = 400;
const IO: u32 = 2;
const CAPPED: u64 = 2;

#[derive(Clone, Debug)]
enum Op {
    Acquire(Request),
    TryAcquire(Request),
    Release(usize),
    Cancel(usize),
}

fn request() -> impl Strategy<Value = Request> {
    let lock = (0..3usize, any::<bool>()).prop_map(|(k, write)| {
        let key = ["a", "b", "c"][k];
        let mode = if write {
            LockMode::Write
        } else {
            LockMode::Read
        };
        volley_resources::AccessKey::new(key, mode).unwrap()
    });
    (
        any::<bool>(),
        prop::sample::select(vec![0.0, 0.5, 1.0, 2.0, 2.5]),
        prop::sample::select(vec![0u64, 100, 300]),
        0..=2u32,
        prop::sample::select(vec![None, Some("capped"), Some("free")]),
        prop::collection::vec(lock, 0..=2),
        prop::sample::select(Priority::ALL.to_vec()),
    )
        .prop_map(|(global, cpu, memory, io, tool, locks, priority)| {
            let mut r = Request::new()
                .global_slot(global)
                .cpu(cpu)
                .memory_mb(memory)
                .io(io)
                .priority(priority);
            if let Some(tool) = tool {
                r = r.tool(tool);
            }
            locks.into_iter().fold(r, Request::lock)
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => request().prop_map(Op::Acquire),
        1 => request().prop_map(Op::TryAcquire),
        3 => any::<prop::sample::Index>().prop_map(|i| Op::Release(i.index(1 << 16))),
        1 => any::<prop::sample::Index>().prop_map(|i| Op::Cancel(i.index(1 << 16))),
    ]
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Permit, AcquireError>>>>;

struct Model {
    m: ResourceManager,
    pending: Vec<(Request, Pending, Arc<Flag>)>,
    held: Vec<(Request, Permit)>,
}

impl Model {
    fn fits_alone(r: &Request) -> bool {
        r.cpu_cores() <= CPU
    }

    fn acquire(&mut self, r: Request) {
        let m = self.m.clone();
        let req = r.clone();
        let mut future: Pending = Box::pin(async move { m.acquire(&req).await });
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        match future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(p)) => self.held.push((r, p)),
            Poll::Ready(Err(e)) => {
                assert!(!Self::fits_alone(&r), "{r:?} refused: {e}");
                assert!(matches!(e, AcquireError::ExceedsCapacity { .. }));
            }
            Poll::Pending => {
                assert!(Self::fits_alone(&r));
                self.pending.push((r, future, flag));
            }
        }
    }

    /// Polls every future whose waker fired, until none did.
    fn run_woken(&mut self) {
        loop {
            let mut progressed = false;
            let mut i = 0;
            while i < self.pending.len() {
                let (_, future, flag) = &mut self.pending[i];
                if flag.0.swap(false, Ordering::SeqCst) {
                    progressed = true;
                    let waker = Waker::from(Arc::clone(flag));
                    if let Poll::Ready(p) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                        let (r, _, _) = self.pending.swap_remove(i);
                        self.held.push((r, p.unwrap()));
                        continue;
                    }
                }
                i += 1;
            }
            if !progressed {
                return;
            }
        }
    }

    fn check(&self) {
        let snap = self.m.snapshot();
        assert_eq!(
            snap.held,
            self.held.len(),
            "a grant was not woken, or a release lost"
        );
        assert_eq!(snap.waiting, self.pending.len());
        let sum = |f: &dyn Fn(&Request) -> f64| self.held.iter().map(|(r, _)| f(r)).sum::<f64>();
        let global = sum(&|r| f64::from(u8::from(r.takes_global_slot())));
        let cpu = sum(&|r| r.cpu_cores());
        let memory = sum(&|r| r.memory() as f64);
        let io = sum(&|r| f64::from(r.io_slots()));
        assert!(global <= GLOBAL as f64 && snap.global.in_use == global);
        assert!(cpu <= CPU + 1e-9 && (snap.cpu.in_use - cpu).abs() < 1e-9);
        assert!(memory <= MEMORY as f64 && snap.memory_mb.in_use == memory);
        assert!(io <= f64::from(IO) && snap.io.in_use == io);
        let capped = self
            .held
            .iter()
            .filter(|(r, _)| r.tool_name() == Some("capped"))
            .count();
        assert!(capped as u64 <= CAPPED);
        let mut locks: HashMap<&str, (u32, u32)> = HashMap::new();
        for (r, _) in &self.held {
            for l in r.locks() {
                let e = locks.entry(l.key()).or_default();
                match l.mode() {
                    LockMode::Read => e.0 += 1,
                    LockMode::Write => e.1 += 1,
                }
            }
        }
        for (key, (readers, writers)) in locks {
            assert!(
                writers == 0 || (writers == 1 && readers == 0),
                "{key}: {readers}r {writers}w"
            );
        }
        // Nothing held means everything fits: nobody may be left waiting.
        if self.held.is_empty() {
            assert!(self.pending.is_empty(), "stuck with nothing held");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn capacities_hold_and_every_request_that_fits_is_granted(
        ops in prop::collection::vec(op(), 1..80),
        bypass in 0..4u32,
    ) {
        let m = ResourceManager::builder()
            .max_concurrency(GLOBAL)
            .cpu_cores(CPU)
            .memory_mb(MEMORY)
            .io_slots(IO)
            .tool_concurrency("capped", CAPPED as usize)
            .bypass_limit(bypass)
            .build()
            .unwrap();
        let mut model = Model { m, pending: Vec::new(), held: Vec::new() };
        for op in ops {
            match op {
                Op::Acquire(r) => model.acquire(r),
                Op::TryAcquire(r) => match model.m.try_acquire(&r) {
                    Ok(p) => model.held.push((r, p)),
                    Err(TryAcquireError::ExceedsCapacity { .. }) => assert!(!Model::fits_alone(&r)),
                    Err(TryAcquireError::Busy { .. }) => assert!(Model::fits_alone(&r)),
                    Err(e) => panic!("unexpected {e}"),
                },
                Op::Release(i) if !model.held.is_empty() => {
                    let n = model.held.len();
                    drop(model.held.swap_remove(i % n));
                }
                Op::Cancel(i) if !model.pending.is_empty() => {
                    let n = model.pending.len();
                    drop(model.pending.swap_remove(i % n));
                }
                Op::Release(_) | Op::Cancel(_) => {}
            }
            model.run_woken();
            model.check();
        }
        // Release everything, oldest first, granting and releasing waiters as they go.
        while !model.held.is_empty() {
            drop(model.held.remove(0));
            model.run_woken();
            model.check();
        }
        prop_assert!(model.pending.is_empty());
        prop_assert!(model.m.snapshot().is_idle());
    }
}
