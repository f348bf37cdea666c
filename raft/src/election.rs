//! Elections: PreVote and Vote campaigns, the vote granting rule, tallying.

use super::message::MessageBody;
use super::node::{RaftNode, Role};
use super::{NodeId, Term};
use crate::bugs::Bug;

/// What a node knows when a (pre-)vote request arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoteRequest {
    /// A PreVote (does not bind the voter) rather than a Vote.
    pub(crate) pre: bool,
    /// The candidate; a granted (non-Pre) Vote goes to it.
    pub(crate) from: NodeId,
    /// The term it campaigns in.
    pub(crate) term: Term,
}

/// The vote granting rule. A node grants a Vote to a candidate if it has not
/// voted in the term (and follows no leader in it) or already voted for that
/// candidate, and the candidate's log is at least as up to date as its own.
/// A PreVote for a later term is granted on the log check alone. With the
/// `no-log-check` bug the log check is skipped.
pub(crate) fn grants_vote(
    req: VoteRequest,
    my_term: Term,
    my_vote: Option<NodeId>,
    my_leader: Option<NodeId>,
    log_up_to_date: bool,
    no_log_check: bool,
) -> bool {
    let can_vote = my_vote == Some(req.from)
        || (my_vote.is_none() && my_leader.is_none())
        || (req.pre && req.term > my_term);
    can_vote && (log_up_to_date || no_log_check)
}

impl RaftNode {
    /// The election timer fired: run a PreVote round first if configured.
    pub(crate) fn campaign_or_pre_campaign(&mut self) {
        if self.cfg.pre_vote {
            self.campaign(true);
        } else {
            self.campaign(false);
        }
    }

    /// Starts a (pre-)campaign: a PreVote asks for votes in `term + 1` without
    /// changing anyone's term; a Vote moves to `term + 1` and votes for itself.
    pub(crate) fn campaign(&mut self, pre: bool) {
        let campaign_term = self.term + 1;
        if pre {
            self.role = Role::PreCandidate;
            self.leader = None;
        } else {
            self.term = campaign_term;
            self.vote = Some(self.cfg.id);
            self.role = Role::Candidate;
            self.leader = None;
        }
        tracing::debug!(id = self.cfg.id, term = campaign_term, pre, "campaign");
        self.reads.clear();
        self.reset_election_timer();
        self.votes.clear();
        self.votes.push((self.cfg.id, true));
        if self.tally_won() {
            self.won(pre);
            return;
        }
        let last_index = self.log.last_index();
        let last_term = self.log.last_term();
        let peers: Vec<NodeId> = self.progress.iter().map(|p| p.id).collect();
        for to in peers {
            let body = if pre {
                MessageBody::PreVote {
                    last_index,
                    last_term,
                }
            } else {
                MessageBody::Vote {
                    last_index,
                    last_term,
                }
            };
            self.send(to, campaign_term, body);
        }
    }

    fn won(&mut self, pre: bool) {
        if pre {
            self.campaign(false);
        } else {
            self.become_leader();
        }
    }

    fn tally_won(&self) -> bool {
        self.votes.iter().filter(|v| v.1).count() >= self.cfg.quorum()
    }

    fn tally_lost(&self) -> bool {
        self.votes.iter().filter(|v| !v.1).count() >= self.cfg.quorum()
    }

    /// A (pre-)vote request for `term` (>= this node's term; higher terms were
    /// already adopted for real Votes).
    pub(crate) fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: Term,
        pre: bool,
        last_index: u64,
        last_term: Term,
    ) {
        let req = VoteRequest { pre, from, term };
        let granted = self.recovery.is_none()
            && grants_vote(
                req,
                self.term,
                self.vote,
                self.leader,
                self.log.is_up_to_date(last_index, last_term),
                self.cfg.bug(Bug::NoLogCheck),
            );
        if pre {
            let resp_term = if granted { term } else { self.term };
            self.send(from, resp_term, MessageBody::PreVoteResp { granted });
        } else {
            if granted {
                self.vote = Some(from);
                self.election_elapsed = 0;
            }
            self.send(from, self.term, MessageBody::VoteResp { granted });
        }
    }

    /// A (pre-)vote answer from `from` in `term`.
    pub(crate) fn handle_vote_response(
        &mut self,
        from: NodeId,
        term: Term,
        pre: bool,
        granted: bool,
    ) {
        let expected = if pre {
            self.role == Role::PreCandidate && term == self.term + 1
        } else {
            self.role == Role::Candidate && term == self.term
        };
        if !expected || self.votes.iter().any(|v| v.0 == from) {
            return;
        }
        self.votes.push((from, granted));
        if self.tally_won() {
            self.won(pre);
        } else if self.tally_lost() {
            self.become_follower(self.term, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(from: NodeId, term: Term) -> VoteRequest {
        VoteRequest {
            pre: false,
            from,
            term,
        }
    }

    #[test]
    fn vote_granting_table() {
        // (my_vote, my_leader, up_to_date, no_log_check) -> granted, for a Vote from 2 in term 5.
        let cases = [
            (None, None, true, false, true),
            (None, None, false, false, false),
            (None, None, false, true, true),
            (Some(2), None, true, false, true),
            (Some(2), None, false, false, false),
            (Some(3), None, true, false, false),
            (Some(3), None, true, true, false),
            (None, Some(3), true, false, false),
        ];
        for (my_vote, leader, utd, bug, want) in cases {
            assert_eq!(
                grants_vote(vote(2, 5), 5, my_vote, leader, utd, bug),
                want,
                "vote={my_vote:?} leader={leader:?} up_to_date={utd} bug={bug}"
            );
        }
    }

    #[test]
    fn pre_votes_for_a_later_term_ignore_the_current_vote() {
        let pre = VoteRequest {
            pre: true,
            from: 2,
            term: 6,
        };
        assert!(grants_vote(pre, 5, Some(3), Some(3), true, false));
        assert!(!grants_vote(pre, 5, Some(3), Some(3), false, false));
        let same_term = VoteRequest { term: 5, ..pre };
        assert!(!grants_vote(same_term, 5, Some(3), None, true, false));
    }
}
