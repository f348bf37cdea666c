//! The linearized set of a search configuration, kept so that the search's
//! cache can store it compactly.
//!
//! Operations with a known outcome are numbered in call order in one bitset,
//! operations that ended `info` in another. A configuration's required set is
//! nearly always "every operation up to a frontier, and some just after it"
//! (an operation can only be placed once every operation that returned before
//! its call is), so it is stored as the frontier (the number of leading words
//! that are all ones) and the words from there to the last set one. The
//! `info` set is stored as the words between its first and last set one. A
//! key with 100,000 operations then costs a few words per cache entry rather
//! than 1,600.

/// A bitset that knows the window of words that differ from its implicit
/// background (all ones before the window, zeros after it, for the required
/// set; zeros on both sides for the `info` set).
#[derive(Debug, Clone)]
pub(crate) struct WindowedBits {
    words: Vec<u64>,
    /// Whether the words before the window are all ones (else all zeros).
    ones_before: bool,
    /// The valid bits of the last word.
    last_mask: u64,
    /// Every word before `lo` is background (possibly more could be).
    lo: usize,
    /// Every word from `hi` on is zero.
    hi: usize,
}

impl WindowedBits {
    /// A set of `n` bits, all clear.
    pub(crate) fn new(n: usize, ones_before: bool) -> Self {
        let words = n.div_ceil(64).max(1);
        let last_mask = match n % 64 {
            0 if n > 0 => !0,
            0 => 0,
            r => (1u64 << r) - 1,
        };
        WindowedBits {
            words: vec![0; words],
            ones_before,
            last_mask,
            lo: 0,
            hi: 0,
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    /// Sets bit `i`.
    pub(crate) fn set(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] |= 1 << (i % 64);
        self.lo = self.lo.min(w);
        self.hi = self.hi.max(w + 1);
    }

    /// Whether bit `i` is set.
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Clears bit `i`.
    pub(crate) fn clear(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] &= !(1 << (i % 64));
        self.lo = self.lo.min(w);
    }

    fn background(&self, w: usize) -> u64 {
        match (self.ones_before, w + 1 == self.words.len()) {
            (false, _) => 0,
            (true, false) => !0,
            (true, true) => self.last_mask,
        }
    }

    /// The window: words `lo..hi` hold everything not implied by the
    /// background. Updates the hints.
    pub(crate) fn window(&mut self) -> (usize, usize) {
        while self.lo < self.words.len() && self.words[self.lo] == self.background(self.lo) {
            self.lo += 1;
        }
        self.hi = self.hi.max(self.lo);
        while self.hi > self.lo && self.words[self.hi - 1] == 0 {
            self.hi -= 1;
        }
        if self.lo == self.hi && !self.ones_before {
            // An empty set: one canonical form wherever the hints are.
            return (0, 0);
        }
        (self.lo, self.hi)
    }

    /// The words of the window `lo..hi` (from [`WindowedBits::window`]).
    pub(crate) fn words(&self, lo: usize, hi: usize) -> &[u64] {
        &self.words[lo..hi]
    }
}

/// A configuration's linearized set in the stored form: two windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Windows {
    /// The required set's window.
    pub(crate) req: (usize, usize),
    /// The `info` set's window.
    pub(crate) info: (usize, usize),
}

impl Windows {
    /// Words a stored record of this set takes (two header words).
    pub(crate) fn record_words(&self) -> usize {
        2 + (self.req.1 - self.req.0) + (self.info.1 - self.info.0)
    }

    /// The record's header words.
    pub(crate) fn header(&self) -> [u64; 2] {
        let pack = |(lo, hi): (usize, usize)| (lo as u64) | (((hi - lo) as u64) << 32);
        [pack(self.req), pack(self.info)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_sets_and_clears() {
        let mut b = WindowedBits::new(300, true);
        assert_eq!(b.window(), (0, 0));
        for i in 0..130 {
            b.set(i);
        }
        b.set(200);
        assert_eq!(b.window(), (2, 4));
        b.clear(200);
        assert_eq!(b.window(), (2, 3));
        b.clear(3);
        assert_eq!(b.window(), (0, 3));
        for i in 0..300 {
            b.set(i);
        }
        assert_eq!(b.window(), (5, 5), "a full set is all background");
        let mut z = WindowedBits::new(1000, false);
        z.set(500);
        z.set(900);
        assert_eq!(z.window(), (7, 15));
        assert_eq!(z.words(7, 8), &[1u64 << (500 % 64)]);
        z.clear(500);
        z.clear(900);
        assert_eq!(z.window(), (0, 0));
    }
}
