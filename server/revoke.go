package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/keychain"
)

// RevokeKey revokes the party key of node directory d, whose node must
// be stopped: each of the party's feeds is distrusted from just after its
// last entry in the store, or from the seq from gives for its channel
// (by name, label or id prefix; never past that point). See
// config.Dir.Revoke.
func RevokeKey(ctx context.Context, d *config.Dir, from map[string]uint64, now time.Time) (*keychain.Revocation, error) {
	st, err := OpenStore(ctx, d)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	heads, err := st.Heads(ctx)
	if err != nil {
		return nil, err
	}
	chans, err := st.Channels(ctx)
	if err != nil {
		return nil, err
	}
	points := map[entry.ChannelID]uint64{}
	for f, h := range heads {
		if f.Party == d.Config.Party {
			points[f.Channel] = h.Seq + 1
		}
	}
	for name, seq := range from {
		var id *entry.ChannelID
		for i, c := range chans {
			if c.Definition.Name == name || c.Label == name || strings.HasPrefix(c.ID.String(), name) {
				id = &chans[i].ID
				break
			}
		}
		if id == nil {
			return nil, hotline.Errorf(hotline.EINVALID, "no channel %s", name)
		}
		h, ok := points[*id]
		switch {
		case !ok:
			return nil, hotline.Errorf(hotline.EINVALID, "this party has no feed in channel %s", name)
		case seq < 1 || seq > h:
			return nil, hotline.Errorf(hotline.EINVALID, "channel %s: this party's feed holds %d entries; give a seq from 1 to %d", name, h-1, h)
		}
		points[*id] = seq
	}
	var feeds []keychain.RevokedFeed
	for id, seq := range points {
		feeds = append(feeds, keychain.RevokedFeed{Channel: id, From: seq})
	}
	r, err := d.Revoke(feeds, now)
	if err != nil {
		return nil, fmt.Errorf("revoke: %w", err)
	}
	return r, nil
}
