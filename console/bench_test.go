package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
)

// BenchmarkPages measures what a console page costs to serve when alpha
// has sent n messages in one channel and bravo has received them: bravo's
// watch page, and alpha's page of that channel, at its newest entries and
// at its oldest. Each is one page (PageEntries entries), whatever n; see
// TestScale_ViewsStayFlat for histories up to a million.
func BenchmarkPages(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		net := network(b)
		alpha, bravo := net.Party("alpha"), net.Party("bravo")
		const ch = "alpha-bravo-policy"
		ac := client.New(alpha.Server.APIURL(), alpha.Token)
		ctx := context.Background()
		none := "0s"
		for i := range n {
			if _, err := ac.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("Message %d of the exchange on the incident at sea.", i), Lang: "en", AckWithin: &none}); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, "bravo holds every message", func() bool { return countKind(b, bravo, ch, "message") == n })
		bh, ah := session(b, bravo), session(b, alpha)
		b.Run(fmt.Sprintf("watch/messages=%d", n), func(b *testing.B) {
			for b.Loop() {
				fetch(b, bh, bravo.Server.ConsoleURL())
			}
		})
		b.Run(fmt.Sprintf("channel/messages=%d", n), func(b *testing.B) {
			url := channelURL(b, alpha, ch)
			for b.Loop() {
				fetch(b, ah, url)
			}
		})
		// The page from the first entry: the far end of the history.
		b.Run(fmt.Sprintf("channel-oldest/messages=%d", n), func(b *testing.B) {
			url := channelURL(b, alpha, ch) + "?after=0.0.a"
			for b.Loop() {
				fetch(b, ah, url)
			}
		})
		net.Stop(ctx)
	}
}

// session is an HTTP client logged in to p's console by a one-time link.
func session(tb testing.TB, p *devnet.Party) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	fetch(tb, hc, p.Server.APIURL()+p.Server.Console.LoginLink(devnet.Operator))
	return hc
}
