//! The local platform's firewall: network faults as nftables tables in the
//! run's private namespace. A [`Cut`] becomes drop rules between node
//! addresses; packet loss becomes `numgen random` rules on the peer port.
//!
//! Clients talk to nodes from 127.0.0.1, which no rule names: only node to
//! node traffic is cut. A packet is matched by its source and destination
//! node addresses (nodes that bind their outgoing peer sockets to their own
//! address), and, when nodes run under group ids of their own, by the
//! sending process's group and the destination address (nodes whose
//! outgoing connections leave from 127.0.0.1).

use std::collections::BTreeSet;

use crate::cut::Cut;
use crate::node::{NodeSpec, PEER_PORT};

/// The nftables table partitions live in.
pub const PARTITION_TABLE: &str = "faultline_partition";

/// The nftables table packet drops live in.
pub const DROP_TABLE: &str = "faultline_drop";

/// The body of the nftables table dropping the packets `cut` blocks.
pub fn partition_rules(cut: &Cut, nodes: &[NodeSpec]) -> String {
    let mut out =
        String::from("  chain output {\n    type filter hook output priority 0; policy accept;\n");
    let mut by_source: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for &(i, j) in &cut.blocked {
        by_source[i].insert(j);
        by_source[j].insert(i);
    }
    for (i, dsts) in by_source.iter().enumerate() {
        if dsts.is_empty() {
            continue;
        }
        let set = dsts
            .iter()
            .map(|j| nodes[*j].ip.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "    ip saddr {} ip daddr {{ {set} }} drop\n",
            nodes[i].ip
        ));
        if let Some(gid) = nodes[i].gid {
            out.push_str(&format!("    meta skgid {gid} ip daddr {{ {set} }} drop\n"));
        }
    }
    out.push_str("  }");
    out
}

/// The body of the nftables table dropping `percent` % of peer packets.
/// Node to node traffic is told from client traffic by the peer port, which
/// only nodes use.
pub fn drop_rules(percent: u8) -> String {
    // numgen compares within 0..=99: all packets need no draw at all.
    let share = if percent >= 100 {
        String::new()
    } else {
        format!("numgen random mod 100 < {percent} ")
    };
    format!(
        "  chain output {{\n    type filter hook output priority 0; policy accept;\n    \
         tcp dport {PEER_PORT} {share}drop\n    \
         tcp sport {PEER_PORT} {share}drop\n  }}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::layout;

    #[test]
    fn partition_rules_name_only_node_addresses_and_their_groups() {
        let nodes = layout(3, std::path::Path::new("/tmp/x"), true);
        let cut = Cut::isolate("isolate-one", 3, &[0]);
        let rules = partition_rules(&cut, &nodes);
        assert!(
            rules.contains("ip saddr 127.0.0.11 ip daddr { 127.0.0.12, 127.0.0.13 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("ip saddr 127.0.0.12 ip daddr { 127.0.0.11 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("meta skgid 61001 ip daddr { 127.0.0.12, 127.0.0.13 } drop"),
            "{rules}"
        );
        assert!(!rules.contains("127.0.0.1 "), "{rules}");
    }

    #[test]
    fn drop_rules_match_only_the_peer_port() {
        let r = drop_rules(20);
        assert!(
            r.contains("tcp dport 7001 numgen random mod 100 < 20 drop"),
            "{r}"
        );
        assert!(r.contains("tcp sport 7001"), "{r}");
        assert!(!r.contains("8001"), "{r}");
        assert!(drop_rules(100).contains("tcp dport 7001 drop"));
    }
}
