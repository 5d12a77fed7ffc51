package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
)

// TestConsole_InvitationsAreCountedNotListedOnTheWatch: many proposals
// from another party show on the watch page as one line with their
// count, not as rows among the channels; their own page lists them, each
// with accept and decline, and declining one takes it off.
func TestConsole_InvitationsAreCountedNotListedOnTheWatch(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	limit := config.Defaults("x").Quota.InvitationsPerPeer
	for i := range limit + 5 {
		if _, err := ac.Propose(ctx, api.ProposeRequest{Name: fmt.Sprintf("invitation-%02d", i), Level: "track2", Members: []string{"bravo"}}); err != nil {
			t.Fatal(err)
		}
	}
	invited := func() int {
		chans, err := bc.Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range chans {
			if c.State == hotline.ChannelInvited {
				n++
			}
		}
		return n
	}
	waitFor(t, "bravo holds as many invitations as alpha may have open", func() bool { return invited() == limit })
	hc := session(t, bravo)
	watch := fetch(t, hc, bravo.Server.ConsoleURL())
	if !strings.Contains(watch, fmt.Sprintf(`<a href="/console/invitations">%d`, limit)) {
		t.Fatalf("the watch page does not count the invitations:\n%s", watch)
	}
	if strings.Contains(watch, "invitation-00") {
		t.Fatal("the watch page lists invitations among the channels")
	}
	page := fetch(t, hc, bravo.Server.ConsoleURL()+"invitations")
	if rows := strings.Count(page, `<tr id="inv-`); rows != limit {
		t.Fatalf("the invitations page has %d rows, want %d", rows, limit)
	}
	m := regexp.MustCompile(`<form method="post" action="(/console/channels/([0-9a-f]+)/decline)" class="inline"><input type="hidden" name="csrf" value="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no decline form on the invitations page")
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.PostForm(bravo.Server.APIURL()+m[1], url.Values{"csrf": {m[3]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("decline: %s", resp.Status)
	}
	if c, err := bc.Channel(ctx, m[2]); err != nil || c.State != hotline.ChannelDeclined {
		t.Fatalf("after decline: %+v %v", c, err)
	}
	hc.CheckRedirect = nil
	// The declined one is gone. (One of alpha's proposals refused by the
	// quota may take its place at once, as alpha retries them.)
	page = fetch(t, hc, bravo.Server.ConsoleURL()+"invitations")
	if strings.Contains(page, `<tr id="inv-`+m[2]) {
		t.Fatal("the declined invitation is still listed")
	}
	if rows, open := strings.Count(page, `<tr id="inv-`), invited(); rows != open && rows != open-1 && rows != open+1 {
		t.Fatalf("after a decline the invitations page has %d rows, and bravo holds %d invitations", rows, open)
	}
}
