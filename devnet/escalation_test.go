package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/server"
)

// hooks is a webhook receiver: it checks every request's signature and
// keeps the payloads by path.
type hooks struct {
	URL    string
	secret []byte
	mu     sync.Mutex
	got    map[string][]escalation.Payload
	bad    []string
}

func startHooks(t *testing.T, secret []byte) *hooks {
	h := &hooks{secret: secret, got: map[string][]escalation.Payload{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !escalation.CheckSignature(h.secret, body, r.Header.Get(escalation.SignatureHeader)) {
			h.bad = append(h.bad, r.URL.Path+": bad signature")
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p escalation.Payload
		if err := json.Unmarshal(body, &p); err != nil || p.Delivery != r.Header.Get(escalation.DeliveryHeader) {
			h.bad = append(h.bad, r.URL.Path+": bad payload")
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		h.got[r.URL.Path] = append(h.got[r.URL.Path], p)
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func (h *hooks) calls(path string) []escalation.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		panic(strings.Join(h.bad, "; "))
	}
	return append([]escalation.Payload(nil), h.got[path]...)
}

// writeSecret writes a webhook secret file and returns its path.
func writeSecret(t *testing.T, secret []byte) string {
	p := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(p, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEscalation_OverdueLadderOnBothSides: an unacknowledged theatre
// message becomes overdue on both nodes; alpha's escalation ladder alerts,
// calls a signed webhook, sends an e-mail to a real SMTP server and posts
// an escalation entry into the policy channel; bravo's reminder ladder
// calls its own webhook; bravo's ack stops what remains of alpha's ladder.
func TestEscalation_OverdueLadderOnBothSides(t *testing.T) {
	mail := startMailpit(t)
	secret := []byte("a-webhook-secret-of-enough-bytes")
	secretFile := writeSecret(t, secret)
	h := startHooks(t, secret)
	const lateAfter = 8 * time.Second
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Configure: func(party string, cfg *config.Config) {
		cfg.SMTP.Addr, cfg.SMTP.From = mail.smtp, "hotline@"+party+".test"
		if party == "alpha" {
			cfg.Escalation["theatre"] = []config.Step{
				{Action: escalation.Alert},
				{Action: escalation.Webhook, URL: h.URL + "/alpha", SecretFile: secretFile},
				{Action: escalation.Email, To: []string{"duty@alpha.test"}},
				{Action: escalation.Escalate},
				{After: config.Duration{Duration: lateAfter}, Action: escalation.Webhook, URL: h.URL + "/alpha-late", SecretFile: secretFile},
			}
		} else {
			cfg.Reminder["theatre"] = []config.Step{{Action: escalation.Webhook, URL: h.URL + "/bravo", SecretFile: secretFile}}
		}
	}})
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	const theatre, policy = "alpha-bravo-theatre", "alpha-bravo-policy"

	events := make(chan client.ServerEvent, 100)
	ready := make(chan struct{})
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	go alpha.Events(evCtx, theatre, ready, func(ev client.ServerEvent) bool {
		if ev.Name == "overdue" || ev.Name == "alert" {
			events <- ev
		}
		return true
	})
	<-ready

	ackWithin := "2s"
	msg, err := alpha.Send(ctx, theatre, api.SendRequest{Text: "Your frigate is 2 nm from our exercise area", AckWithin: &ackWithin})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "the message is overdue on both nodes", func() bool {
			e := findEntry(t, c, theatre, msg.ID)
			return e != nil && e.MessageState != nil && e.Overdue
		})
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case ev := <-events:
			if ev.Data.Entry != msg.ID {
				t.Fatalf("event %s for entry %s, want %s", ev.Name, ev.Data.Entry, msg.ID)
			}
			seen[ev.Name] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("events seen: %v; want overdue and alert", seen)
		}
	}

	// The webhook got one correctly signed call per side.
	eventually(t, "both webhooks called", func() bool { return len(h.calls("/alpha")) == 1 && len(h.calls("/bravo")) == 1 })
	a, b := h.calls("/alpha")[0], h.calls("/bravo")[0]
	if a.Event != escalation.EventOverdue || a.Entry.ID != msg.ID || a.Party != "alpha" || strings.Join(a.Pending, ",") != "bravo" || a.Step != 2 {
		t.Errorf("alpha's webhook payload: %+v", a)
	}
	if b.Event != escalation.EventReminder || b.Entry.ID != msg.ID || b.Party != "bravo" || b.Ladder != escalation.ReminderLadder {
		t.Errorf("bravo's webhook payload: %+v", b)
	}
	// The e-mail arrived at the SMTP server.
	eventually(t, "the e-mail arrives", func() bool {
		ms, err := mail.messages()
		return err == nil && len(ms) == 1
	})
	ms, _ := mail.messages()
	if !strings.Contains(ms[0].Subject, "OVERDUE") || len(ms[0].To) != 1 || ms[0].To[0].Address != "duty@alpha.test" {
		t.Errorf("e-mail: %+v", ms[0])
	}
	// The escalation entry is in the policy channel on both sides.
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "the escalation entry reaches the policy channel", func() bool {
			log, err := c.Log(ctx, policy)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range log {
				if e.Kind == entry.KindEscalation && e.Escalation.Entry.ID == msg.ID && e.Author == "alpha" {
					n++
				}
			}
			return n == 1
		})
	}
	metrics := scrape(t, net.Party("alpha").Server.APIURL()+"/metrics")
	if !strings.Contains(metrics, `hotline_overdue_entries{role="sent"} 1`) {
		t.Errorf("alpha's metrics do not count the overdue message")
	}
	if strings.Contains(metrics, "hotline_deadline_look_seconds_count 0") || !strings.Contains(metrics, "hotline_deadline_look_seconds_count") {
		t.Errorf("alpha's metrics do not time the deadline watcher's looks")
	}
	items, err := bravo.Pending(ctx)
	if err != nil || len(items) != 1 || items[0].Role != "received" || !items[0].Overdue {
		t.Fatalf("bravo's pending list: %+v, %v", items, err)
	}

	// The ack stops the rest of alpha's ladder.
	if _, err := bravo.Mark(ctx, theatre, msg.ID, "ack", "Noted; frigate will open to 5 nm"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha stops watching the acknowledged message", func() bool {
		items, err := alpha.Pending(ctx)
		return err == nil && len(items) == 0
	})
	id, _ := entry.ParseID(msg.ID)
	steps, err := net.Party("alpha").Server.Store.LadderSteps(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := findEntry(t, alpha, theatre, msg.ID).Deadline
	time.Sleep(time.Until(deadline.Add(lateAfter + time.Second)))
	if got := h.calls("/alpha-late"); len(got) != 0 {
		t.Errorf("the step after the ack ran: %+v", got)
	}
	after, _ := net.Party("alpha").Server.Store.LadderSteps(ctx, id)
	if len(steps) != 4 || len(after) != 4 {
		t.Errorf("alpha recorded %d ladder steps at the ack and %d later, want 4 and 4: %+v", len(steps), len(after), after)
	}
	if len(h.calls("/alpha")) != 1 || len(h.calls("/bravo")) != 1 {
		t.Errorf("a webhook step ran twice")
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestEscalation_BadInputChangesNothing: a policy with a negative or absurd
// deadline, an escalation target at a lower level or with other members,
// or an escalating track2 channel is refused with a clear error, and no
// channel is proposed; a node whose ladder configuration is bad does not
// start, and its store is not touched.
func TestEscalation_BadInputChangesNothing(t *testing.T) {
	net := MustStart(t, 3)
	ctx := context.Background()
	alpha := clientOf(net.Party("alpha"))
	before, err := alpha.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	neg, absurd, unparsable := "-5m", "10000h", "soon"
	for _, tc := range []struct {
		name   string
		level  string
		policy api.PolicyRequest
		want   string
	}{
		{"negative deadline", "theatre", api.PolicyRequest{AckWithin: &neg}, "negative"},
		{"absurd deadline", "theatre", api.PolicyRequest{AckWithin: &absurd}, "between 0 and"},
		{"absurd call deadline", "theatre", api.PolicyRequest{CallWithin: &absurd}, "between 0 and"},
		{"not a duration", "theatre", api.PolicyRequest{AckWithin: &unparsable}, "not a duration"},
		{"target with other members", "theatre", api.PolicyRequest{EscalateTo: "all-parties-policy"}, "same members"},
		{"target below", "policy", api.PolicyRequest{EscalateTo: "alpha-bravo-frontline"}, "not above"},
		{"target at the same level", "theatre", api.PolicyRequest{EscalateTo: "alpha-bravo-theatre"}, "not above"},
		{"unknown target", "theatre", api.PolicyRequest{EscalateTo: "no-such-channel"}, "no channel"},
		{"track2 escalates", "track2", api.PolicyRequest{EscalateTo: "alpha-bravo-policy"}, "never escalate"},
		{"unknown level", "strategik", api.PolicyRequest{}, "unknown level"},
	} {
		_, err := alpha.Propose(ctx, api.ProposeRequest{Name: "bad-policy", Level: tc.level, Members: []string{"bravo"}, Policy: &tc.policy})
		if code := hotline.ErrorCode(err); (code != hotline.EINVALID && code != hotline.ENOTFOUND) || !strings.Contains(hotline.ErrorMessage(err), tc.want) {
			t.Errorf("%s: got %v, want a clear error saying %q", tc.name, err, tc.want)
		}
	}
	after, err := alpha.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("refused proposals changed the channel list: %d channels before, %d after", len(before), len(after))
	}

	// A bad ladder in the configuration file stops the node at start,
	// before its store is opened.
	charlie := net.Party("charlie")
	if err := net.StopParty(ctx, charlie); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(charlie.Dir, config.FileName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// On SQLite the file shows it; on PostgreSQL (HOTLINE_DEVNET_STORE),
	// the lease, which a start takes, shows it.
	db := filepath.Join(charlie.Dir, "hotline.db")
	st, err := os.Stat(db)
	if err != nil && !onPostgres {
		t.Fatal(err)
	}
	epoch := leaseEpoch(t, charlie)
	for _, bad := range []struct{ toml, want string }{
		{"\n[[escalation.strategik]]\naction = \"alert\"\n", `unknown level "strategik"`},
		{"\n[[reminder.frontline]]\naction = \"webhook\"\nurl = \"file:///etc/passwd\"\nsecret_file = \"/dev/null\"\n", "http or https"},
	} {
		if err := os.WriteFile(path, append(bytes.Clone(good), bad.toml...), 0o600); err != nil {
			t.Fatal(err)
		}
		err := net.StartParty(ctx, charlie)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("start with %q: got %v, want an error saying %q", bad.toml, err, bad.want)
		}
	}
	if onPostgres {
		if leaseEpoch(t, charlie) != epoch {
			t.Errorf("a refused start took the lease")
		}
	} else if st2, err := os.Stat(db); err != nil || !st2.ModTime().Equal(st.ModTime()) || st2.Size() != st.Size() {
		t.Errorf("a refused start touched the store")
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, charlie); err != nil {
		t.Fatalf("charlie does not start again with its good configuration: %v", err)
	}
}

// TestDeadlines_ALookCostsWhatChanged: with hundreds of messages waiting
// for bravo's acknowledgement, the deadline watcher reads each from the
// store once, and an acknowledgement then costs a look of a few
// evaluations, not one per open watch; what Pending reports from the
// watcher's cache is what a restarted node, reading every watch, reports.
func TestDeadlines_ALookCostsWhatChanged(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	const n = 300
	hour := time.Hour
	if err := Fill(ctx, alpha, "alpha-bravo-frontline", n, FillOptions{AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	bc := clientOf(bravo)
	delivered := func() int {
		items, err := bc.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d := 0
		for _, it := range items {
			if it.Deadline != nil {
				d++
			}
		}
		return d
	}
	eventually(t, "bravo owes every message, each delivered", func() bool { return delivered() == n })
	evaluations := func() float64 {
		for _, line := range strings.Split(scrape(t, bravo.Server.APIURL()+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, "hotline_deadline_evaluations_total "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		t.Fatal("no hotline_deadline_evaluations_total in bravo's metrics")
		return 0
	}
	time.Sleep(time.Second) // the watcher's last looks settle
	before := evaluations()
	if before < n {
		t.Fatalf("bravo's watcher read %v watches, fewer than the %d open", before, n)
	}
	items, err := bc.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Mark(ctx, "alpha-bravo-frontline", items[0].Entry, "ack", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the acknowledged message leaves bravo's pending list", func() bool {
		items, err := bc.Pending(ctx)
		return err == nil && len(items) == n-1
	})
	time.Sleep(time.Second)
	if spent := evaluations() - before; spent > 10 {
		t.Fatalf("one acknowledgement cost %v evaluations of %d open watches", spent, n)
	}
	cached, err := bc.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.StopParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	fresh, err := clientOf(bravo).Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != len(cached) {
		t.Fatalf("after a restart bravo owes %d, before it %d", len(fresh), len(cached))
	}
	for i := range fresh {
		a, b := fresh[i], cached[i]
		if a.Entry != b.Entry || a.Overdue != b.Overdue || !a.Deadline.Equal(*b.Deadline) || !slices.Equal(a.Pending, b.Pending) {
			t.Fatalf("item %d after a restart %+v, before %+v", i, a, b)
		}
	}
}

// leaseEpoch is the epoch of party p's replica lease; 0 on SQLite.
func leaseEpoch(t *testing.T, p *Party) int64 {
	t.Helper()
	d, err := config.Open(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lease, ok := st.(hotline.Lease)
	if !ok {
		return 0
	}
	h, err := lease.Holder(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Epoch
}
