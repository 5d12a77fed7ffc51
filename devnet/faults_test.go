package devnet

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/faultnet"
	"github.com/hotline-project/hotline/node"
)

// route is the direction from one party's node to another's.
type route struct{ from, to string }

// faultyNet is a dev network whose every peer link runs through a fault
// proxy: from's node reaches to's node only through proxies[route{from, to}]
// (and, for parties given a backup, through backups[...] second).
type faultyNet struct {
	*Network
	proxies map[route]*faultnet.Proxy
	backups map[route]*faultnet.Proxy
}

// startFaulty starts n parties with fast link settings and every link
// proxied. withBackup lists routes that get a second, backup endpoint.
func startFaulty(t *testing.T, n int, opts Options, withBackup ...route) *faultyNet {
	t.Helper()
	newProxy := func() *faultnet.Proxy {
		px, err := faultnet.Listen("")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		return px
	}
	// Take the proxies' ports first, so the ports Prepare picks for the
	// nodes cannot collide with them.
	fn := &faultyNet{proxies: make(map[route]*faultnet.Proxy), backups: make(map[route]*faultnet.Proxy)}
	for _, from := range Names[:n] {
		for _, to := range Names[:n] {
			if from != to {
				r := route{from, to}
				fn.proxies[r] = newProxy()
				if slices.Contains(withBackup, r) {
					fn.backups[r] = newProxy()
				}
			}
		}
	}
	opts.Parties, opts.Fast = n, true
	if opts.SyncInterval == 0 {
		opts.SyncInterval = 200 * time.Millisecond
	}
	net, err := Prepare(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	fn.Network = net
	dirs := make(map[string]*config.Dir)
	for _, p := range net.Parties {
		if dirs[p.Name], err = config.Open(p.Dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, from := range net.Parties {
		peers, err := dirs[from.Name].Peers()
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range peers {
			r := route{from.Name, doc.Party}
			target := dirs[doc.Party].Config.Peer.Listen
			fn.proxies[r].SetTarget(target)
			doc.Endpoints = []string{fn.proxies[r].Addr()}
			if b := fn.backups[r]; b != nil {
				b.SetTarget(target)
				doc.Endpoints = append(doc.Endpoints, b.Addr())
			}
			if _, err := dirs[from.Name].AddPeer(&doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustRun(t, net)
	return fn
}

// partition cuts both directions between a and b; heal restores them.
func (fn *faultyNet) partition(a, b string) {
	fn.proxies[route{a, b}].Partition()
	fn.proxies[route{b, a}].Partition()
}

func (fn *faultyNet) heal(a, b string) {
	fn.proxies[route{a, b}].Heal()
	fn.proxies[route{b, a}].Heal()
}

// each applies f to the proxies of both directions between a and b.
func (fn *faultyNet) each(a, b string, f func(*faultnet.Proxy)) {
	f(fn.proxies[route{a, b}])
	f(fn.proxies[route{b, a}])
}

// sendN sends n messages from party to channel and returns their ids.
func sendN(t *testing.T, p *Party, channel string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		ref, err := clientOf(p).Send(context.Background(), channel, api.SendRequest{Text: fmt.Sprintf("%s message %d", p.Name, i), Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ref.ID)
	}
	return ids
}

// allDelivered waits until every member of channel holds each of ids
// exactly once and the author holds receipts for them from every other
// member; it then checks that no member holds any entry twice.
func allDelivered(t *testing.T, net *Network, channel string, author string, ids []string, members ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages by %s delivered in %s", len(ids), author, channel), func() bool {
		for _, m := range members {
			log, err := clientOf(net.Party(m)).Log(context.Background(), channel)
			if err != nil {
				return false
			}
			held := make(map[string]*node.EntryView)
			for i := range log {
				held[log[i].ID] = &log[i]
			}
			for _, id := range ids {
				e := held[id]
				if e == nil {
					return false
				}
				if m == author && len(e.DeliveredTo) != len(members)-1 {
					return false
				}
			}
		}
		return true
	})
	for _, m := range members {
		log, err := clientOf(net.Party(m)).Log(context.Background(), channel)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[string]bool)
		type feedSeq struct {
			author string
			seq    uint64
		}
		seqs := make(map[feedSeq]bool)
		for _, e := range log {
			if seen[e.ID] || seqs[feedSeq{e.Author, e.Seq}] {
				t.Fatalf("%s holds %s/%d twice", m, e.Author, e.Seq)
			}
			seen[e.ID], seqs[feedSeq{e.Author, e.Seq}] = true, true
		}
	}
}

func linkTo(t *testing.T, p *Party, peer string) node.LinkStatus {
	t.Helper()
	for _, l := range p.Server.Node.Links() {
		if l.Party == peer {
			return l
		}
	}
	t.Fatalf("%s has no link to %s", p.Name, peer)
	return node.LinkStatus{}
}

func TestFaults_PartitionHeals(t *testing.T) {
	fn := startFaulty(t, 2, Options{})
	alpha, bravo := fn.Party("alpha"), fn.Party("bravo")
	events, err := alpha.Server.Node.Subscribe("test", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Cancel()

	fn.partition("alpha", "bravo")
	fromAlpha := sendN(t, alpha, "alpha-bravo-theatre", 40)
	fromBravo := sendN(t, bravo, "alpha-bravo-theatre", 10)

	// Both sides raise the silence alarm while the partition lasts.
	eventually(t, "alpha raises the silence alarm", func() bool { return linkTo(t, alpha, "bravo").Silent })
	eventually(t, "bravo raises the silence alarm", func() bool { return linkTo(t, bravo, "alpha").Silent })
	if _, refused, _ := fn.proxies[route{"alpha", "bravo"}].Stats(); refused == 0 {
		t.Fatal("the partition refused nothing: the test did not exercise it")
	}
	if got := findEntry(t, clientOf(bravo), "alpha-bravo-theatre", fromAlpha[0]); got != nil {
		t.Fatal("a message crossed the partition")
	}

	fn.heal("alpha", "bravo")
	allDelivered(t, fn.Network, "alpha-bravo-theatre", "alpha", fromAlpha, "alpha", "bravo")
	allDelivered(t, fn.Network, "alpha-bravo-theatre", "bravo", fromBravo, "alpha", "bravo")
	eventually(t, "alpha clears the silence alarm", func() bool { return !linkTo(t, alpha, "bravo").Silent })

	// The alarm and the recovery were announced to operators.
	var alarm, restored bool
	for !alarm || !restored {
		select {
		case ev := <-events.C:
			alarm = alarm || (ev.Type == node.EventAlarm && ev.By == "bravo")
			restored = restored || (ev.Type == node.EventLink && ev.By == "bravo")
		case <-time.After(5 * time.Second):
			t.Fatalf("events: alarm %v, restored %v", alarm, restored)
		}
	}
	// The link history shows the failed tests and, once the next
	// heartbeat has gone (the link may have caught up before it), the
	// good ones.
	var ok, failed int
	eventually(t, "the link history shows failed and good link tests", func() bool {
		hist, err := clientOf(alpha).LinkHistory(context.Background(), "bravo", 10000)
		if err != nil {
			t.Fatal(err)
		}
		ok, failed = 0, 0
		for _, lt := range hist {
			if lt.OK {
				ok++
			} else {
				failed++
			}
		}
		return ok > 0 && failed > 0
	})
}

func TestFaults_SlowSatelliteBearer(t *testing.T) {
	// 2 s each way and 10 kB/s: a TLS handshake alone takes several seconds.
	fn := startFaulty(t, 2, Options{PeerTimeout: 30 * time.Second})
	alpha := fn.Party("alpha")
	fn.each("alpha", "bravo", func(p *faultnet.Proxy) {
		p.SetLatency(2 * time.Second)
		p.SetBandwidth(10_000)
		p.Reset() // new connections, so the handshake also crosses the slow bearer
	})
	ids := sendN(t, alpha, "alpha-bravo-frontline", 60)
	deadline := time.Now().Add(90 * time.Second)
	for {
		e := findEntry(t, clientOf(alpha), "alpha-bravo-frontline", ids[len(ids)-1])
		if e != nil && e.Delivered != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not delivered over the slow bearer within 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	allDelivered(t, fn.Network, "alpha-bravo-frontline", "alpha", ids, "alpha", "bravo")
}

func TestFaults_ConnectionResets(t *testing.T) {
	fn := startFaulty(t, 2, Options{})
	alpha, bravo := fn.Party("alpha"), fn.Party("bravo")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
				fn.each("alpha", "bravo", func(p *faultnet.Proxy) { p.Reset() })
			}
		}
	}()
	a := sendN(t, alpha, "alpha-bravo-policy", 200)
	b := sendN(t, bravo, "alpha-bravo-policy", 100)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-done
	if _, _, resets := fn.proxies[route{"alpha", "bravo"}].Stats(); resets == 0 {
		t.Fatal("no connection was reset: the test did not exercise resets")
	}
	allDelivered(t, fn.Network, "alpha-bravo-policy", "alpha", a, "alpha", "bravo")
	allDelivered(t, fn.Network, "alpha-bravo-policy", "bravo", b, "alpha", "bravo")
}

func TestFaults_FailoverToBackupAndBack(t *testing.T) {
	r := route{"alpha", "bravo"}
	fn := startFaulty(t, 2, Options{PeerTimeout: 2 * time.Second}, r)
	alpha := fn.Party("alpha")
	primary, backup := fn.proxies[r], fn.backups[r]
	activeIs := func(addr string) func() bool {
		return func() bool {
			for _, ep := range linkTo(t, alpha, "bravo").Endpoints {
				if ep.Active {
					return ep.Address == addr
				}
			}
			return false
		}
	}
	eventually(t, "alpha uses the primary", activeIs(primary.Addr()))

	// The primary becomes a black hole: open connections stay up but
	// nothing comes back, so requests hang until the timeout, then go to
	// the backup. Bravo cannot reach alpha at all, so everything must
	// travel on alpha's requests over the backup.
	primary.SetBlackhole(true)
	fn.proxies[route{"bravo", "alpha"}].Partition()
	ids := sendN(t, alpha, "alpha-bravo-strategic", 20)
	allDelivered(t, fn.Network, "alpha-bravo-strategic", "alpha", ids, "alpha", "bravo")
	eventually(t, "alpha fails over to the backup", activeIs(backup.Addr()))

	// The primary returns: alpha fails back to it.
	primary.Heal()
	fn.proxies[route{"bravo", "alpha"}].Heal()
	more := sendN(t, alpha, "alpha-bravo-strategic", 5)
	eventually(t, "alpha fails back to the primary", activeIs(primary.Addr()))
	allDelivered(t, fn.Network, "alpha-bravo-strategic", "alpha", append(ids, more...), "alpha", "bravo")

	// Both endpoints were tested by heartbeats all along.
	hist, err := clientOf(alpha).LinkHistory(context.Background(), "bravo", 10000)
	if err != nil {
		t.Fatal(err)
	}
	okOn := map[string]bool{}
	for _, lt := range hist {
		okOn[lt.Endpoint] = okOn[lt.Endpoint] || lt.OK
	}
	if !okOn[primary.Addr()] || !okOn[backup.Addr()] {
		t.Fatalf("heartbeats succeeded on %v; want both endpoints", okOn)
	}
}

func TestFaults_RelayThroughThirdParty(t *testing.T) {
	fn := startFaulty(t, 3, Options{})
	alpha, charlie := fn.Party("alpha"), fn.Party("charlie")
	eventually(t, "the links are up", func() bool { return linkTo(t, alpha, "charlie").Up })
	// Alpha and charlie cannot reach each other; both reach bravo.
	fn.partition("alpha", "charlie")
	a := sendN(t, alpha, "all-parties-policy", 20)
	c := sendN(t, charlie, "all-parties-policy", 10)
	// Charlie gets alpha's entries through bravo, and alpha gets charlie's
	// receipts (and messages) the same way.
	allDelivered(t, fn.Network, "all-parties-policy", "alpha", a, "alpha", "bravo", "charlie")
	allDelivered(t, fn.Network, "all-parties-policy", "charlie", c, "alpha", "bravo", "charlie")
	if _, refused, _ := fn.proxies[route{"alpha", "charlie"}].Stats(); refused == 0 {
		t.Fatal("alpha never tried to reach charlie directly: the relay was not needed")
	}
	if linkTo(t, alpha, "charlie").Up {
		t.Fatal("alpha's link to charlie is up through a partition")
	}
}

// TestFaults_APeerThatReachesUsEndsOurBackoff: while alpha cannot reach
// bravo it backs off; bravo still reaches alpha, and each time it does,
// alpha's backoff ends and it tries again at once (counted in
// hotline_peer_backoff_cut_total), so the message waiting at alpha goes
// as soon as the way is open, not at the end of a backoff.
func TestFaults_APeerThatReachesUsEndsOurBackoff(t *testing.T) {
	fn := startFaulty(t, 2, Options{})
	alpha, bravo := fn.Party("alpha"), fn.Party("bravo")
	fn.proxies[route{"alpha", "bravo"}].Partition()
	ids := sendN(t, alpha, "alpha-bravo-theatre", 1)
	cut := func() float64 {
		for _, line := range strings.Split(scrape(t, alpha.Server.APIURL()+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, `hotline_peer_backoff_cut_total{peer="bravo"} `); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return 0
	}
	eventually(t, "bravo reaching alpha ends alpha's backoff", func() bool { return cut() > 0 })
	if findEntry(t, clientOf(bravo), "alpha-bravo-theatre", ids[0]) != nil {
		t.Fatal("the message crossed a partition")
	}
	fn.proxies[route{"alpha", "bravo"}].Heal()
	eventually(t, "the message reaches bravo", func() bool { return findEntry(t, clientOf(bravo), "alpha-bravo-theatre", ids[0]) != nil })
}

// TestFaults_AFullPullIsFollowedAtOnce: bravo comes back to find 2,000
// entries waiting at alpha, and alpha cannot push to it; with a sync
// interval of an hour, bravo catches up only if each pull that came back
// full is followed at once by the next, not a batch per interval.
func TestFaults_AFullPullIsFollowedAtOnce(t *testing.T) {
	fn := startFaulty(t, 2, Options{SyncInterval: time.Hour})
	ctx := context.Background()
	alpha, bravo := fn.Party("alpha"), fn.Party("bravo")
	if err := fn.StopParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	fn.proxies[route{"alpha", "bravo"}].Partition() // only bravo's pulls cross
	const n = 2000
	if err := Fill(ctx, alpha, "alpha-bravo-frontline", n, FillOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := fn.StartParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	// No deadline to speak of: only a node that stopped pulling fails.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if u, err := clientOf(bravo).Unread(ctx, "alpha-bravo-frontline"); err == nil && u.Count >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bravo stopped pulling before it held the backlog")
		}
	}
}
