//! `drop`: nftables rules dropping a share of the packets between nodes at
//! random (`numgen random`). Node to node traffic is told from client
//! traffic by the peer port, which only nodes use.

use crate::cluster::PEER_PORT;

/// The nftables table packet drops live in.
pub const TABLE: &str = "faultline_drop";

/// The body of the nftables table dropping `percent` % of peer packets.
pub fn rules(percent: u8) -> String {
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
    #[test]
    fn rules_match_only_the_peer_port() {
        let r = super::rules(20);
        assert!(
            r.contains("tcp dport 7001 numgen random mod 100 < 20 drop"),
            "{r}"
        );
        assert!(r.contains("tcp sport 7001"), "{r}");
        assert!(!r.contains("8001"), "{r}");
        assert!(super::rules(100).contains("tcp dport 7001 drop"));
    }
}
