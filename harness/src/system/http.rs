//! `http`: bring your own binary. `--node-cmd` is a command template started
//! once per node with its placeholders filled in; the harness talks to the
//! nodes through faultline-node's HTTP API (README, section faultline-node),
//! the way Maelstrom's `--bin` lets any program join its protocol.
//!
//! Placeholders: `{id}` (n1, n2, ...), `{peer_addr}` and `{http_addr}`
//! (ip:port), `{peers}` (`n1=ADDR,n2=ADDR,...`, faultline-node's `--peers`),
//! `{data_dir}`. The template is split into words like a shell would
//! (quotes, backslashes), without running a shell.

use std::path::PathBuf;
use std::sync::Arc;

use super::faultline_node::NodeApi;
use super::{
    faultline_node, ClientSpec, Failpoints, NodeCommand, Registered, Status, System, SystemClient,
    SystemError, UNKNOWN_DISK,
};
use faultline_platform::cluster::NodeSpec;

/// The name `--system` takes.
pub const NAME: &str = "http";

/// The registry entry of `--system http`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: UNKNOWN_DISK,
    help: "your own binary speaking faultline-node's HTTP API: --node-cmd 'CMD {id} {peer_addr} {http_addr} {peers} {data_dir}'",
    flags: <HttpArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: HttpArgs = opts.parse()?;
        let Some(cmd) = &args.node_cmd else {
            return Err(SystemError::BadOption(
                "--system http needs --node-cmd 'CMD {id} {peer_addr} {http_addr} {peers} {data_dir}'"
                    .into(),
            ));
        };
        Ok(Arc::new(Http::new(cmd)?))
    },
};

/// The flags of `--system http`. `--node-cmd` is declared here, where its
/// placeholders are filled in; the other systems that start their nodes
/// from a command template (`exec`, `maelstrom`) flatten these `Args`
/// into theirs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpArgs {
    /// `--system http` and `exec`: the command started per node, placeholders
    /// {id} {peer_addr} {http_addr} {peers} {data_dir} filled in.
    #[arg(long)]
    pub node_cmd: Option<String>,
}

const PLACEHOLDERS: [&str; 5] = [
    "{id}",
    "{peer_addr}",
    "{http_addr}",
    "{peers}",
    "{data_dir}",
];

/// A program started from a command template, speaking faultline-node's API.
#[derive(Debug, Clone)]
pub struct Http {
    template: String,
    words: Vec<String>,
    api: NodeApi,
}

impl Http {
    /// The system started by `template` (see the module docs).
    pub fn new(template: &str) -> Result<Http, SystemError> {
        let words = shell_words::split(template)
            .map_err(|e| SystemError::BadOption(format!("--node-cmd {template:?}: {e}")))?;
        if words.is_empty() {
            return Err(SystemError::BadOption("--node-cmd is empty".into()));
        }
        if !PLACEHOLDERS.iter().any(|p| template.contains(p)) {
            tracing::warn!(
                "--node-cmd has no placeholder ({}): every node gets the same command line",
                PLACEHOLDERS.join(" ")
            );
        }
        Ok(Http {
            template: template.to_string(),
            words,
            api: NodeApi::default(),
        })
    }
}

/// `word` with the placeholders of `node` filled in.
pub(crate) fn fill(word: &str, node: &NodeSpec, nodes: &[NodeSpec]) -> String {
    word.replace("{id}", &node.name)
        .replace("{peer_addr}", &node.peer_addr.to_string())
        .replace("{http_addr}", &node.http_addr.to_string())
        .replace("{peers}", &faultline_node::peers(nodes))
        .replace("{data_dir}", &node.data_dir.display().to_string())
}

impl System for Http {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.template.clone()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        let mut words = self.words.iter().map(|w| fill(w, &nodes[i], nodes));
        let program = PathBuf::from(words.next().unwrap_or_default());
        NodeCommand {
            program,
            args: words.collect(),
        }
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        self.api.client(node, spec)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(&self.api)
    }

    fn failpoints(&self) -> Option<&dyn Failpoints> {
        Some(&self.api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    #[test]
    fn placeholders_are_filled_per_node_and_quotes_split_like_a_shell() {
        let nodes = layout(3, std::path::Path::new("/tmp/run"), false);
        let h = Http::new(
            "/opt/kv --name {id} --listen={http_addr} --raft {peer_addr} --cluster {peers} --dir '{data_dir}/my dir' --flag \"a b\"",
        )
        .unwrap();
        let c = h.command(1, &nodes);
        assert_eq!(c.program, PathBuf::from("/opt/kv"));
        assert_eq!(
            c.args,
            vec![
                "--name",
                "n2",
                "--listen=127.0.0.12:8001",
                "--raft",
                "127.0.0.12:7001",
                "--cluster",
                "n1=127.0.0.11:7001,n2=127.0.0.12:7001,n3=127.0.0.13:7001",
                "--dir",
                "/tmp/run/data/n2/my dir",
                "--flag",
                "a b",
            ]
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Http::new("").is_err());
        assert!(Http::new("node 'unclosed").is_err());
    }
}
