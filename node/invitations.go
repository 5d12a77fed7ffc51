package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// An invitation is a channel another party proposed that this party has
// not answered. A peer can send any number of proposals, so invitations
// are bounded: each party may have at most Config.Invitations open here
// (its proposals past them are refused at the peer link), an invitation
// expires after Config.InvitationExpiry, and an operator may decline one.
// Only channels this party proposed or accepted are relayed to the other
// members; an invitation's feeds are synced with its proposer alone, so
// junk proposals never travel between honest nodes.

// openInvitations counts the channels proposer proposed that wait for
// this party's answer, those new in batch b included.
func (b *batch) openInvitations(proposer string) int {
	count := 0
	for _, c := range b.chans {
		if c.State == hotline.ChannelInvited && c.Definition.Proposer == proposer {
			count++
		}
	}
	for id, c := range b.n.channels {
		if _, shadowed := b.chans[id]; shadowed {
			continue
		}
		if c.State == hotline.ChannelInvited && c.Definition.Proposer == proposer {
			count++
		}
	}
	return count
}

// checkInvitationQuota refuses a proposal from a party that has as many
// open invitations here as it may.
func (b *batch) checkInvitationQuota(proposer string) error {
	limit := b.n.invitations
	if limit <= 0 || b.openInvitations(proposer) < limit {
		return nil
	}
	return quotaRejection(b.n.meter.RefuseInvitation(proposer, limit))
}

// Decline records that this party declines an invitation: the channel
// stays in the store (so its proposer does not send it again) but is no
// longer shown among the invitations, synced with anyone, or accepted.
func (n *Node) Decline(ctx context.Context, operator, ref string) (*hotline.Channel, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	r := n.submit(ctx, &writeReq{state: &stateChange{channel: ch.ID, to: hotline.ChannelDeclined, check: func(ch *hotline.Channel) error {
		if ch.State != hotline.ChannelInvited {
			return hotline.Errorf(hotline.ECONFLICT, "channel %s is %s: only an invitation can be declined", ch.Label, ch.State)
		}
		return nil
	}}})
	if r.err != nil {
		return nil, r.err
	}
	n.log.Info("invitation declined", "channel", ch.ID, "label", ch.Label, "proposer", ch.Definition.Proposer, "operator", operator)
	c, _ := n.channel(ch.ID)
	return c, nil
}

// invitationLoop expires invitations left unanswered past the expiry.
func (n *Node) invitationLoop() {
	every := min(n.inviteExpiry/10, time.Hour)
	for {
		n.expireInvitations(n.ctx)
		if !n.sleep(every, nil) {
			return
		}
	}
}

// expireInvitations marks every invitation older than the expiry as
// expired.
func (n *Node) expireInvitations(ctx context.Context) {
	now := n.now()
	var due []entry.ChannelID
	n.mu.RLock()
	for id, c := range n.channels {
		if c.State == hotline.ChannelInvited && !c.Stored.IsZero() && now.Sub(c.Stored) > n.inviteExpiry {
			due = append(due, id)
		}
	}
	n.mu.RUnlock()
	for _, id := range due {
		r := n.submit(ctx, &writeReq{state: &stateChange{channel: id, to: hotline.ChannelExpired, check: func(ch *hotline.Channel) error {
			if ch.State != hotline.ChannelInvited {
				return errNotInvited
			}
			return nil
		}}})
		switch {
		case r.err == errNotInvited:
		case r.err != nil:
			if ctx.Err() == nil {
				n.log.Error("expire invitation", "channel", id, "err", r.err)
			}
			return
		default:
			n.log.Info("invitation expired unanswered", "channel", id, "after", n.inviteExpiry)
		}
	}
}

var errNotInvited = fmt.Errorf("no longer an invitation")

// Invitations returns the open invitations, oldest first.
func (n *Node) Invitations() []hotline.Channel {
	var out []hotline.Channel
	for _, c := range n.Channels() {
		if c.State == hotline.ChannelInvited {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b hotline.Channel) int { return a.Stored.Compare(b.Stored) })
	return out
}
