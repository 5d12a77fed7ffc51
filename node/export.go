package node

import (
	"context"
	"io"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/audit"
)

// Export writes the archive of a channel (see package audit): the members'
// keys as pinned, every entry in storage order, and every checkpoint with
// the cosignatures this node holds. It reads in pages, so memory does not
// grow with the channel.
func (n *Node) Export(ctx context.Context, ref string, w io.Writer) error {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return err
	}
	// The archive is of the channel as it is now: entries and checkpoints
	// stored while it is written are left out, so its counts hold.
	heads := map[string]uint64{}
	total := 0
	for _, m := range ch.Definition.Members {
		heads[m.Party] = n.head(hotline.Feed{Channel: ch.ID, Party: m.Party}).Seq
		total += int(heads[m.Party])
	}
	aw, err := audit.NewWriter(w, audit.Header{Channel: ch.ID.String(), Name: ch.Definition.Name, Level: ch.Definition.Level,
		ExportedBy: n.self, ExportedAt: n.now().UTC(), Entries: total})
	if err != nil {
		return err
	}
	// Each member's keys: the one the definition names, then each its
	// key entries in this channel moved its feed on to, with the seqs
	// each signs; then any later key of its chain, with no period (it
	// may have cosigned a checkpoint).
	for _, m := range ch.Definition.Members {
		f := hotline.Feed{Channel: ch.ID, Party: m.Party}
		key, from := m.Key, uint64(1)
		recorded := map[string]bool{}
		for _, c := range n.keys.Changes(f) {
			if c.Seq > heads[m.Party] {
				break
			}
			until := c.Seq
			if err := aw.Key(m.Party, key, &from, &until); err != nil {
				return err
			}
			recorded[key] = true
			key, from = c.New.Verifier, c.Seq+1
		}
		var fromp *uint64
		if from > 1 {
			fromp = &from
		}
		if err := aw.Key(m.Party, key, fromp, nil); err != nil {
			return err
		}
		recorded[key] = true
		for _, k := range n.keys.Keys(m.Party) {
			if !recorded[k.Verifier] {
				recorded[k.Verifier] = true
				if err := aw.Key(m.Party, k.Verifier, nil, nil); err != nil {
					return err
				}
			}
		}
	}
	// Each member's revocations that concern its feed here.
	for _, m := range ch.Definition.Members {
		keys := n.feedKeys(hotline.Feed{Channel: ch.ID, Party: m.Party}, m.Key)
		for _, r := range n.revoked[m.Party] {
			if r.AppliesTo(hotline.Feed{Channel: ch.ID, Party: m.Party}, keys) {
				if err := aw.Revocation(m.Party, r.Note); err != nil {
					return err
				}
			}
		}
	}
	written := 0
	for after := int64(0); written < total; {
		page, err := n.store.ChannelEntries(ctx, ch.ID, after, 1000)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, st := range page {
			after = st.Local
			if st.Seq > heads[st.Author] {
				continue
			}
			if err := aw.Entry(st.Entry, st.Received); err != nil {
				return err
			}
			written++
		}
	}
	for _, m := range ch.Definition.Members {
		cps, err := n.store.Checkpoints(ctx, hotline.Feed{Channel: ch.ID, Party: m.Party})
		if err != nil {
			return err
		}
		for _, c := range cps {
			if c.Size > int64(heads[m.Party]) {
				continue
			}
			if err := aw.Checkpoint(m.Party, c.Note); err != nil {
				return err
			}
		}
	}
	return aw.Close()
}
