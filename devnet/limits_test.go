package devnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
)

// TestInvitations_ExpireAndAreDeclined: an invitation left unanswered
// past quota.invitation_expiry expires; one declined is no longer listed
// or acceptable; neither is synced on, and both stay listed with ?all.
func TestInvitations_ExpireAndAreDeclined(t *testing.T) {
	var skew atomic.Int64 // how far bravo's clock runs ahead
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			cfg.Quota.InvitationExpiry = config.Duration{Duration: time.Minute}
		},
		Clock: func(party string) func() time.Time {
			if party != "bravo" {
				return nil
			}
			return func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		}})
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	var ids []string
	for _, name := range []string{"to-expire", "to-decline"} {
		ch, err := alpha.Propose(ctx, api.ProposeRequest{Name: name, Level: "track2", Members: []string{"bravo"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ch.ID)
	}
	eventually(t, "bravo holds both invitations", func() bool {
		for _, id := range ids {
			if c, err := bravo.Channel(ctx, id); err != nil || c.State != hotline.ChannelInvited {
				return false
			}
		}
		return true
	})
	if _, err := bravo.Decline(ctx, "to-decline"); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.Accept(ctx, "to-decline"); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("accepting a declined invitation: %v", err)
	}
	skew.Store(int64(2 * time.Minute))
	eventually(t, "the other invitation expires", func() bool {
		c, err := bravo.Channel(ctx, "to-expire")
		return err == nil && c.State == hotline.ChannelExpired
	})
	listed, err := bravo.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range listed {
		if c.Name == "to-expire" || c.Name == "to-decline" {
			t.Fatalf("%s is still listed (%s)", c.Name, c.State)
		}
	}
	all, err := bravo.AllChannels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]hotline.ChannelState{}
	for _, c := range all {
		states[c.Name] = c.State
	}
	if states["to-expire"] != hotline.ChannelExpired || states["to-decline"] != hotline.ChannelDeclined {
		t.Fatalf("with ?all: %v", states)
	}
	// Alpha still sees them as proposed: a decline is bravo's own record.
	if c, err := alpha.Channel(ctx, "to-decline"); err != nil || c.State != hotline.ChannelProposed {
		t.Fatalf("at alpha: %+v %v", c, err)
	}
}

// TestMetrics_BehindATokenOrOnTheirOwnListener: with metrics.token_file,
// /metrics answers only a scraper that sends the token; with
// metrics.listen, it is served there and not on the API listener.
func TestMetrics_BehindATokenOrOnTheirOwnListener(t *testing.T) {
	metricsAddr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	net, err := Prepare(t.TempDir(), Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Configure: func(party string, cfg *config.Config) {
		cfg.Metrics.TokenFile = "metrics.token"
		if party == "bravo" {
			cfg.Metrics.Listen = metricsAddr
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	const token = "a-scraper-token-of-enough-length"
	for _, p := range net.Parties {
		if err := os.WriteFile(filepath.Join(p.Dir, "metrics.token"), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, net)
	get := func(url, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alpha := net.Party("alpha").Server
	if code, _ := get(alpha.MetricsURL(), ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without the token: %d", code)
	}
	if code, _ := get(alpha.MetricsURL(), "wrong-token-of-enough-length"); code != http.StatusUnauthorized {
		t.Fatalf("metrics with a wrong token: %d", code)
	}
	if code, body := get(alpha.MetricsURL(), token); code != http.StatusOK || !strings.Contains(body, "hotline_quota_refused_total") && !strings.Contains(body, "hotline_entries_stored_total") {
		t.Fatalf("metrics with the token: %d", code)
	}
	bravo := net.Party("bravo").Server
	if !strings.Contains(bravo.MetricsURL(), metricsAddr) {
		t.Fatalf("bravo's metrics at %s", bravo.MetricsURL())
	}
	if code, _ := get(bravo.APIURL()+"/metrics", token); code != http.StatusNotFound {
		t.Fatalf("bravo's API listener still serves metrics: %d", code)
	}
	if code, _ := get(bravo.MetricsURL(), token); code != http.StatusOK {
		t.Fatalf("bravo's metrics listener: %d", code)
	}
}

// TestEvents_ResumeWithLastEventID: a stream that comes back with the id
// of the last event it saw gets what it missed, in order; one that missed
// more than the node keeps, or saw an id from before a restart, is told it
// lagged.
func TestEvents_ResumeWithLastEventID(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	a := net.Party("alpha")
	alpha := clientOf(a)
	open := func(last string) (*bufio.Reader, func()) {
		req, _ := http.NewRequest(http.MethodGet, a.Server.APIURL()+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("events: %v %v", resp, err)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	// next reads the next event's id and name.
	next := func(r *bufio.Reader) (id, name string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case line == "" && name != "":
				return id, name
			}
		}
	}
	r, closeFirst := open("")
	if _, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "first", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	last, _ := next(r)
	closeFirst()
	// While away: more messages.
	for i := range 3 {
		if _, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: fmt.Sprint("while away ", i), Lang: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	r, closeSecond := open(last)
	defer closeSecond()
	prev, _ := strconv.ParseUint(last, 10, 64)
	entries := 0
	for entries < 3 {
		id, name := next(r)
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || n != prev+1 {
			t.Fatalf("resumed with event %q after %d: not the next one", id, prev)
		}
		prev = n
		if name == "lagged" {
			t.Fatal("a short absence was answered lagged")
		}
		if name == "entry" {
			entries++
		}
	}
	// An id the node no longer holds, or from before a restart: lagged.
	for _, old := range []string{"1", strconv.FormatUint(prev+1000000, 10)} {
		r, closeOld := open(old)
		if _, name := next(r); name != "lagged" {
			t.Errorf("Last-Event-ID %s: first event %s, want lagged", old, name)
		}
		closeOld()
	}
}
