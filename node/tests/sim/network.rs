//! The simulated network: per-message delay, loss, reordering and partitions,
//! all drawn from the cluster's seeded generator.

use faultline_node::raft::{Message, NodeId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How the network misbehaves.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Smallest delay in ticks (at least 1).
    pub delay_min: u64,
    /// Largest delay in ticks; a spread reorders messages.
    pub delay_max: u64,
    /// Probability that a message is delayed by up to `long_delay` extra ticks.
    pub long_delay_prob: f64,
    /// The extra delay of a long-delayed message.
    pub long_delay: u64,
}

impl NetConfig {
    /// Every message arrives the next tick, in order.
    pub fn reliable() -> Self {
        NetConfig {
            loss: 0.0,
            delay_min: 1,
            delay_max: 1,
            long_delay_prob: 0.0,
            long_delay: 0,
        }
    }

    /// Loses 10% of messages, delays by 1–3 ticks, sometimes much longer
    /// (so messages are reordered).
    pub fn unreliable() -> Self {
        NetConfig {
            loss: 0.1,
            delay_min: 1,
            delay_max: 3,
            long_delay_prob: 0.05,
            long_delay: 40,
        }
    }
}

struct InFlight {
    deliver_at: u64,
    order: u64,
    msg: Message,
}

/// Messages in flight and the links that are cut.
pub struct Network {
    pub config: NetConfig,
    in_flight: Vec<InFlight>,
    /// `cut[from][to]`: messages from `from` to `to` are dropped.
    cut: Vec<Vec<bool>>,
    seq: u64,
    pub sent: u64,
}

impl Network {
    pub fn new(n: usize, config: NetConfig) -> Self {
        Network {
            config,
            in_flight: Vec::new(),
            cut: vec![vec![false; n + 1]; n + 1],
            seq: 0,
            sent: 0,
        }
    }

    fn link_up(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut[from as usize][to as usize]
    }

    /// Queues `msg` (unless lost or cut) for delivery after its delay.
    pub fn send(&mut self, msg: Message, now: u64, rng: &mut ChaCha8Rng) {
        self.sent += 1;
        if !self.link_up(msg.from, msg.to) {
            return;
        }
        let c = self.config;
        if c.loss > 0.0 && rng.gen_bool(c.loss) {
            return;
        }
        let mut delay = rng.gen_range(c.delay_min.max(1)..=c.delay_max.max(c.delay_min.max(1)));
        if c.long_delay_prob > 0.0 && rng.gen_bool(c.long_delay_prob) {
            delay += rng.gen_range(0..=c.long_delay);
        }
        let order = if c.delay_max > c.delay_min || c.long_delay_prob > 0.0 {
            rng.gen()
        } else {
            self.seq
        };
        self.seq += 1;
        self.in_flight.push(InFlight {
            deliver_at: now + delay,
            order,
            msg,
        });
    }

    /// Takes the messages due at `now` whose link is still up, in delivery order.
    pub fn due(&mut self, now: u64) -> Vec<Message> {
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].deliver_at <= now {
                due.push(self.in_flight.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|m| (m.deliver_at, m.order));
        due.into_iter()
            .filter(|m| self.link_up(m.msg.from, m.msg.to))
            .map(|m| m.msg)
            .collect()
    }

    /// Cuts (or restores) both directions between `a` and `b`.
    pub fn set_link(&mut self, a: NodeId, b: NodeId, up: bool) {
        self.cut[a as usize][b as usize] = !up;
        self.cut[b as usize][a as usize] = !up;
    }

    /// Restores every cut link; messages dropped while it was cut stay lost.
    pub fn heal(&mut self) {
        for row in &mut self.cut {
            row.iter_mut().for_each(|c| *c = false);
        }
    }

    /// Drops every message in flight to `id` (it crashed).
    pub fn drop_to(&mut self, id: NodeId) {
        self.in_flight.retain(|m| m.msg.to != id);
    }
}
