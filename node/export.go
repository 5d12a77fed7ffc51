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
	for _, m := range ch.Definition.Members {
		_, vkey, ok := n.keyOf(m.Party)
		if !ok {
			vkey = m.Key // a member this node no longer pins: the key agreed in the channel
		}
		// Keys are not rotated yet, so each party has one key, valid
		// throughout; a rotation will add a record with its period.
		if err := aw.Key(m.Party, vkey, nil, nil); err != nil {
			return err
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
