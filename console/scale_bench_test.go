package console_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
)

var scaleSizes = flag.String("console.scale", "", "history sizes for TestScale_ViewsStayFlat, comma-separated (10000,100000,1000000); empty skips it")

// TestScale_ViewsStayFlat measures what each view costs as one channel's
// history grows: alpha writes N messages into a frontline channel (through
// the node, see devnet.Fill), bravo holds them all unread but the last
// screenful, and at each size the test times, on both nodes, the views a
// duty officer and a script use, the first paint of bravo's channel page
// in Chromium, memory, and how long a live message takes from alpha's
// send to bravo's open page at 20 a second. It asserts nothing about
// times (they are the machine's); it prints a Markdown table for
// docs/PERFORMANCE.md, and fails only if a view breaks. Run it with
//
//	go test ./console -run TestScale_ViewsStayFlat -console.scale=10000,100000,1000000 -timeout 3h -v
func TestScale_ViewsStayFlat(t *testing.T) {
	if *scaleSizes == "" {
		t.Skip("give -console.scale=10000,100000,1000000 to measure the views at those history sizes")
	}
	var sizes []int
	for _, s := range strings.Split(*scaleSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || (len(sizes) > 0 && n <= sizes[len(sizes)-1]) {
			t.Fatalf("-console.scale=%s: give increasing sizes", *scaleSizes)
		}
		sizes = append(sizes, n)
	}
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-frontline"
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	ah, bh := session(t, alpha), session(t, bravo)
	b := browser(t)
	login(t, b, bravo, password)
	hour := time.Hour

	type row struct {
		name string
		at   map[int]string
	}
	var rows []*row
	put := func(name string, n int, v string) {
		i := slices.IndexFunc(rows, func(r *row) bool { return r.name == name })
		if i < 0 {
			rows = append(rows, &row{name: name, at: map[int]string{}})
			i = len(rows) - 1
		}
		rows[i].at[n] = v
		t.Logf("%d: %s: %s", n, name, v)
	}
	// median times fn over runs and returns the median and the bytes of
	// the last answer.
	median := func(runs int, fn func() int) (time.Duration, int) {
		var ds []time.Duration
		size := 0
		for range runs {
			start := time.Now()
			size = fn()
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2], size
	}
	get := func(hc *http.Client, url string) func() int {
		return func() int {
			resp, err := hc.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", url, resp.Status)
			}
			return int(n)
		}
	}
	apiGet := func(p *devnet.Party, path string) func() int {
		hc := &http.Client{Transport: bearer{p.Token}}
		return get(hc, p.Server.APIURL()+path)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

	written := 0
	for _, n := range sizes {
		// Bravo's page is closed while the history is written: an open
		// page would mark what scrolls past as read.
		run(t, b, "bravo's page closes", chromedp.Navigate("about:blank"))
		u0, err := bc.Unread(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := devnet.Fill(ctx, alpha, ch, n-written, devnet.FillOptions{Text: func(i int) string {
			return fmt.Sprintf("Position report %d: patrol vessel at 12°%02d'N 114°%02d'E, course 270, speed 12 knots.", written+i, i%60, (i/60)%60)
		}}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Hour); ; time.Sleep(500 * time.Millisecond) {
			u, err := bc.Unread(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			if u.Count >= u0.Count+n-written {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bravo holds %d of %d new messages after an hour", u.Count, n-written)
			}
		}
		put("fill (alpha writes, bravo holds; messages/s)", n, fmt.Sprintf("%.0f", float64(n-written)/time.Since(start).Seconds()))
		written = n
		// One call request and one message that needs an answer, so that
		// the agenda and pending have something to show.
		if _, err := ac.Send(ctx, ch, api.SendRequest{Text: "Confirm your course", Lang: "en", AckWithin: ptr(hour.String())}); err != nil {
			t.Fatal(err)
		}

		for _, side := range []struct {
			who string
			p   *devnet.Party
			hc  *http.Client
		}{{"alpha", alpha, ah}, {"bravo", bravo, bh}} {
			d, size := median(15, apiGet(side.p, "/api/v1/channels/"+ch+"/entries?limit=100"))
			put(side.who+": GET .../entries?limit=100 (newest page)", n, fmt.Sprintf("%s, %d KB", ms(d), size>>10))
			d, _ = median(15, apiGet(side.p, "/api/v1/channels/"+ch+"/entries?after=0&limit=100"))
			put(side.who+": GET .../entries?after=0&limit=100 (first page)", n, ms(d))
			d, size = median(15, get(side.hc, channelURL(t, side.p, ch)))
			put(side.who+": channel page", n, fmt.Sprintf("%s, %d KB", ms(d), size>>10))
			d, size = median(15, get(side.hc, side.p.Server.ConsoleURL()))
			put(side.who+": watch page", n, fmt.Sprintf("%s, %d KB", ms(d), size>>10))
			d, _ = median(15, apiGet(side.p, "/api/v1/pending"))
			put(side.who+": GET /api/v1/pending", n, ms(d))
			d, _ = median(15, apiGet(side.p, "/api/v1/calls"))
			put(side.who+": GET /api/v1/calls", n, ms(d))
			d, _ = median(15, apiGet(side.p, "/api/v1/channels/"+ch+"/unread"))
			put(side.who+": GET .../unread (count and first unread)", n, ms(d))
		}

		var paint float64
		run(t, b, "bravo's channel page paints", chromedp.Navigate(channelURL(t, bravo, ch)), present("#rows"),
			waitJS(`performance.getEntriesByType("paint").some(e => e.name === "first-contentful-paint")`),
			chromedp.Evaluate(`performance.getEntriesByType("paint").find(e => e.name === "first-contentful-paint").startTime`, &paint))
		put("bravo: channel page, first contentful paint in Chromium", n, fmt.Sprintf("%.0f ms", paint))

		// Live: alpha sends 100 messages at 20 a second; bravo's open page
		// notes when each appears.
		run(t, b, "bravo's page listens", chromedp.Evaluate(`window.arrived = {}; new MutationObserver(() => {
			document.querySelectorAll("#rows li.msg .text").forEach(e => { const m = /^Live (\d+) (\d+)$/.exec(e.textContent); if (m && !(m[1] in window.arrived)) window.arrived[m[1]] = Date.now() - Number(m[2]); });
		}).observe(document.getElementById("rows"), {childList: true, subtree: true}); true`, nil))
		none := "0s"
		for i := range 100 {
			if _, err := ac.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("Live %d %d", i, time.Now().UnixMilli()), Lang: "en", AckWithin: &none}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		var lat map[string]float64
		run(t, b, "the live messages arrive", waitJS(`Object.keys(window.arrived).length === 100`), chromedp.Evaluate(`window.arrived`, &lat))
		var ls []float64
		for _, v := range lat {
			ls = append(ls, v)
		}
		slices.Sort(ls)
		put("live message, alpha's send to bravo's open page, 20/s (p50 / p95)", n, fmt.Sprintf("%.0f / %.0f ms", ls[len(ls)/2], ls[len(ls)*95/100]))

		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		put("Go heap in use after GC (both nodes and the test, one process)", n, fmt.Sprintf("%d MB", m.HeapInuse>>20))
		put("resident memory, now / high-water (both nodes, SQLite and the test)", n, procMemory())
		if d, err := config.Open(alpha.Dir); err == nil {
			if fi, err := os.Stat(d.StorePath()); err == nil {
				put("alpha's store file", n, fmt.Sprintf("%d MB", fi.Size()>>20))
			}
		}
	}

	var sb strings.Builder
	sb.WriteString("| view |")
	for _, n := range sizes {
		fmt.Fprintf(&sb, " %d entries |", n)
	}
	sb.WriteString("\n| --- |" + strings.Repeat(" --- |", len(sizes)) + "\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s |", r.name)
		for _, n := range sizes {
			fmt.Fprintf(&sb, " %s |", r.at[n])
		}
		sb.WriteString("\n")
	}
	fmt.Println(sb.String())
}

func ptr[T any](v T) *T { return &v }

// procMemory reads this process's resident memory and its high-water
// mark from /proc (Linux).
func procMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	var rss, hwm string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	kb := func(s string) string {
		n, _ := strconv.Atoi(strings.TrimSuffix(s, " kB"))
		return fmt.Sprintf("%d MB", n>>10)
	}
	return kb(rss) + " / " + kb(hwm)
}

// bearer is a transport that adds an API token.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
