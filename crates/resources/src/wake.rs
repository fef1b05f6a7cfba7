//! Wakers collected under the lock and woken after it is released.

use std::task::Waker;

/// Up to `INLINE` wakers without allocating; more spill to a vector.
pub(crate) struct WakeList {
    inline: [Option<Waker>; INLINE],
    len: usize,
    spill: Vec<Waker>,
}

const INLINE: usize = 16;

impl WakeList {
    pub(crate) fn new() -> Self {
        Self {
            inline: [const { None }; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        if self.len < INLINE {
            self.inline[self.len] = Some(waker);
            self.len += 1;
        } else {
            self.spill.push(waker);
        }
    }

    /// Wakes everything collected; call with no lock held.
    pub(crate) fn wake_all(mut self) {
        for waker in self.inline[..self.len].iter_mut().filter_map(Option::take) {
            waker.wake();
        }
        for waker in self.spill.drain(..) {
            waker.wake();
        }
    }
}
