package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/account"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
)

// The browser tests drive Debian's chromium (or any Chrome found) with
// chromedp against two real nodes. Without a browser they skip, unless
// HOTLINE_REQUIRE_BROWSER is set, as CI sets it: there a missing browser
// is a failure.

const password = "correct horse battery staple"

func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOTLINE_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HOTLINE_REQUIRE_BROWSER") != "" {
		t.Fatal("no browser found (chromium, google-chrome) and HOTLINE_REQUIRE_BROWSER is set: install chromium")
	}
	t.Skip("no browser found: install chromium (apt-get install chromium) to run the console's browser tests")
	return ""
}

// browser starts a headless browser of its own (its own cookies) and
// returns a context to drive it.
func browser(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	// The profile is removed after the browser is gone; Chromium's helper
	// processes may still be writing to it for a moment, so removal is
	// retried (t.TempDir would fail the test on a cleanup race).
	profile, err := os.MkdirTemp("", "hotline-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the browser profile %s", profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 1000),
	)
	opts = append(opts, flags...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	return bctx
}

// run runs browser actions with a deadline.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// present waits until an element sel names is in the page. Elements in
// live regions are waited for this way, not with chromedp.WaitVisible,
// which looks a node up and then inspects it: a refresh in between loses
// the node.
func present(sel string) chromedp.Action {
	return waitJS(fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// textOf waits for the element sel names and reads its text in one
// step in the page: a live refresh can replace the element at any moment,
// so it is not looked up first and read after.
func textOf(sel string, out *string) chromedp.Action {
	return chromedp.Tasks{
		present(sel),
		chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel), out),
	}
}

// waitJS waits until a JavaScript expression is true, riding out page
// loads in between.
func waitJS(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		deadline := time.Now().Add(25 * time.Second)
		for {
			var ok bool
			err := chromedp.Evaluate(expr, &ok).Do(ctx)
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("waiting for %s: last error %v", expr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// network starts alpha and bravo, each with a password login for the
// duty operator; bravo's reads Chinese.
func network(t testing.TB) *devnet.Network {
	t.Helper()
	return networkWith(t, devnet.Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
}

// networkWith is network with other options.
func networkWith(t testing.TB, opts devnet.Options) *devnet.Network {
	t.Helper()
	net, err := devnet.Prepare(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Stop(context.Background()) })
	for _, p := range net.Parties {
		h, err := account.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		lang := ""
		if p.Name == "bravo" {
			lang = "zh-Hans"
		}
		if err := p.Server.Store.PutOperator(ctx, hotline.Operator{Name: devnet.Operator, Password: h, Lang: lang}); err != nil {
			t.Fatal(err)
		}
	}
	return net
}

func login(t *testing.T, b context.Context, p *devnet.Party, pw string) {
	t.Helper()
	run(t, b, "log in as "+p.Name,
		chromedp.Navigate(p.Server.ConsoleURL()),
		chromedp.WaitVisible("#operator", chromedp.ByID),
		chromedp.SendKeys("#operator", devnet.Operator, chromedp.ByID),
		chromedp.SendKeys("#password", pw, chromedp.ByID),
		submit("form.login button"),
	)
}

// submit clicks a form's button and waits until the page it leads to has
// loaded (the old page's marker is gone). The button is found and clicked
// in one step in the page, as the form would otherwise be submitted with
// it: a live refresh can replace it between a lookup and a mouse click.
func submit(button string) chromedp.Action {
	return chromedp.Tasks{
		present(button),
		chromedp.Evaluate(fmt.Sprintf(`window.leaving = true; document.querySelector(%q).click()`, button), nil),
		waitJS(`window.leaving !== true && document.readyState === "complete"`),
	}
}

// screenshot saves the page as a PNG under the artifacts folder the
// README names (HOTLINE_ARTIFACTS, default artifacts/ at the repository
// root), for people to look at after a CI run.
func screenshot(t *testing.T, b context.Context, name string) {
	t.Helper()
	dir := os.Getenv("HOTLINE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var png []byte
	run(t, b, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func channelURL(t testing.TB, p *devnet.Party, name string) string {
	t.Helper()
	ch, err := p.Server.Node.ResolveChannel(name)
	if err != nil {
		t.Fatal(err)
	}
	return p.Server.ConsoleURL() + "channels/" + ch.ID.String()
}

// TestConsole_FullExchangeLive: alpha and bravo log in, each in their own
// browser. Alpha sends from the console; the message appears in bravo's
// open page without a reload; bravo acknowledges in one click, and
// alpha's open page turns it acknowledged, live. A message with a short
// deadline counts down and says OVERDUE (in words, in Chinese on bravo's
// side). A strategic message asks for confirmation before it is sent.
func TestConsole_FullExchangeLive(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ba, bb := browser(t), browser(t)
	login(t, ba, alpha, password)
	login(t, bb, bravo, password)
	var title string
	run(t, ba, "alpha's home", present("#channels"), chromedp.Title(&title))
	if !strings.Contains(title, "Watch") {
		t.Fatalf("alpha's home title %q", title)
	}
	run(t, bb, "bravo's home in Chinese", present("#channels"), chromedp.Title(&title))
	if !strings.Contains(title, "值班") {
		t.Fatalf("bravo's home title %q: want Chinese", title)
	}

	const policy = "alpha-bravo-policy"
	run(t, bb, "bravo opens the channel", chromedp.Navigate(channelURL(t, bravo, policy)), present("#timeline"),
		chromedp.Evaluate(`window.notReloaded = true`, nil))
	run(t, ba, "alpha sends from the console",
		chromedp.Navigate(channelURL(t, alpha, policy)),
		chromedp.WaitVisible("#text", chromedp.ByID),
		chromedp.SendKeys("#text", "Request a call at 0900Z on the incident at sea", chromedp.ByID),
		submit("form.text-form button"),
		chromedp.WaitVisible(`p.ok[role="status"]`, chromedp.ByQuery),
		chromedp.Evaluate(`window.notReloaded = true`, nil),
	)
	entryID := latestMessage(t, alpha, policy, "Request a call at 0900Z on the incident at sea")

	// Bravo's open page shows it, without a reload, with a Chinese interface.
	sel := "#e-" + entryID
	run(t, bb, "the message arrives live at bravo",
		waitJS(fmt.Sprintf(`document.querySelector(%q) !== null`, sel)),
		waitJS(`window.notReloaded === true`),
	)
	var text string
	run(t, bb, "bravo reads it", textOf(sel+" .text", &text))
	if text != "Request a call at 0900Z on the incident at sea" {
		t.Fatalf("bravo sees %q", text)
	}
	// Opening it wrote a signed read entry, which alpha's page shows live.
	run(t, ba, "alpha sees it read", waitJS(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent.includes("Read by bravo")`, sel)))
	screenshot(t, bb, "channel-bravo-zh")

	// One click to acknowledge; alpha's open page turns it acknowledged.
	run(t, bb, "bravo acknowledges", submit(sel+" form.ack button"), present(sel+".acked"))
	run(t, ba, "alpha sees the acknowledgement live",
		waitJS(fmt.Sprintf(`document.querySelector(%q) !== null`, sel+".acked")),
		waitJS(`window.notReloaded === true`),
	)
	run(t, ba, "alpha reads who acknowledged", textOf(sel+" .ack-state", &text))
	screenshot(t, ba, "channel-alpha")
	if !strings.Contains(text, "Acknowledged by bravo (duty)") || !regexp.MustCompile(`\(duty\) \d\d:\d\dZ`).MatchString(text) {
		t.Fatalf("alpha's acknowledgement line: %q", text)
	}

	// Compose offers a deadline: bravo answers, due within a minute, and
	// alpha's open page counts it down.
	run(t, bb, "bravo answers with a deadline",
		chromedp.SendKeys("#text", "Agreed. Please confirm the time.", chromedp.ByID),
		chromedp.SetValue("#ack-within", "1m0s", chromedp.ByID),
		submit("form.text-form button"),
		chromedp.WaitVisible(`p.ok[role="status"]`, chromedp.ByQuery))
	answer := latestMessage(t, bravo, policy, "Agreed. Please confirm the time.")
	run(t, ba, "alpha sees the answer's countdown live",
		waitJS(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent.includes("ack due in")`, "#e-"+answer+" .due")),
		waitJS(`window.notReloaded === true`))

	// A deadline counts down and goes overdue, said in words.
	ac := client.New(alpha.Server.APIURL(), alpha.Token)
	short := "3s"
	ref, err := ac.Send(context.Background(), policy, api.SendRequest{Text: "Confirm receipt within seconds", Lang: "en", AckWithin: &short})
	if err != nil {
		t.Fatal(err)
	}
	dsel := "#e-" + ref.ID + " .due"
	run(t, bb, "bravo sees the countdown", waitJS(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent.includes("须在")`, dsel)))
	run(t, bb, "bravo sees it overdue", waitJS(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent.includes("已逾期")`, dsel)),
		waitJS(fmt.Sprintf(`document.querySelector(%q).classList.contains("overdue")`, "#e-"+ref.ID)))
	var bar string
	run(t, bb, "the overdue card has its red bar", chromedp.Evaluate(fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).borderLeftWidth`, "#e-"+ref.ID), &bar))
	if bar != "6px" {
		t.Errorf("the overdue card's left border is %q, not its 6px bar", bar)
	}
	run(t, ba, "alpha's home lists it overdue", chromedp.Navigate(alpha.Server.ConsoleURL()),
		waitJS(`(document.querySelector("#unanswered")||{}).textContent.includes("OVERDUE by")`))
	screenshot(t, ba, "home-alpha")
	// On a phone-sized screen the page reflows instead of scrolling sideways.
	var overflow bool
	run(t, bb, "bravo on a narrow screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(bravo.Server.ConsoleURL()),
		present("#channels"),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
	if overflow {
		t.Error("the watch page scrolls sideways at 390 px")
	}
	screenshot(t, bb, "home-bravo-narrow")

	// Strategic: confirm before sending.
	run(t, ba, "alpha writes at strategic level",
		chromedp.Navigate(channelURL(t, alpha, "alpha-bravo-strategic")),
		chromedp.WaitVisible("#text", chromedp.ByID),
		chromedp.SendKeys("#text", "The minister requests a call", chromedp.ByID),
		submit("form.text-form button"),
		chromedp.WaitVisible("blockquote.preview", chromedp.ByQuery),
		textOf("blockquote.preview", &text),
	)
	if text != "The minister requests a call" {
		t.Fatalf("confirmation preview %q", text)
	}
	if n := countMessages(t, alpha, "alpha-bravo-strategic"); n != 0 {
		t.Fatalf("%d messages sent before confirmation", n)
	}
	run(t, ba, "alpha confirms", submit("main form button.primary"), chromedp.WaitVisible(`p.ok[role="status"]`, chromedp.ByQuery))
	if n := countMessages(t, alpha, "alpha-bravo-strategic"); n != 1 {
		t.Fatalf("%d messages after confirmation", n)
	}
}

func latestMessage(t *testing.T, p *devnet.Party, ch, text string) string {
	t.Helper()
	_, page, err := p.Server.Node.Log(context.Background(), ch, "", hotline.PageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	views := page.Entries // the newest
	for i := len(views) - 1; i >= 0; i-- {
		if views[i].Kind == "message" && views[i].Text == text {
			return views[i].ID
		}
	}
	t.Fatalf("no message %q in %s", text, ch)
	return ""
}

func countMessages(t *testing.T, p *devnet.Party, ch string) int {
	t.Helper()
	return countKind(t, p, ch, "message")
}

// TestConsole_PhraseFormShowsFieldErrors: a phrase chosen from the list
// gets a form generated from its fields; an invalid value comes back
// with the error next to that field, and nothing is sent.
func TestConsole_PhraseFormShowsFieldErrors(t *testing.T) {
	net := network(t)
	alpha := net.Party("alpha")
	b := browser(t)
	login(t, b, alpha, password)
	var n int
	run(t, b, "search the phrases",
		chromedp.Navigate(channelURL(t, alpha, "alpha-bravo-theatre")),
		chromedp.WaitVisible("#phrase-search", chromedp.ByID),
		chromedp.SendKeys("#phrase-search", "launch", chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#phrase-list li:not([hidden])").length`, &n),
	)
	if n != 1 {
		t.Fatalf("searching 'launch' leaves %d phrases", n)
	}
	before := countMessages(t, alpha, "alpha-bravo-theatre")
	start := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(8 * time.Hour).UTC().Format(time.RFC3339)
	var errText, invalid, chosen, hint string
	var ok bool
	run(t, b, "open the launch notice",
		submit(`#phrase-list li:not([hidden]) a`),
		chromedp.WaitVisible("#f-impact_area", chromedp.ByID),
		chromedp.Value("#f-vehicle", &chosen, chromedp.ByID),
		chromedp.Text("#h-vehicle", &hint, chromedp.ByID))
	if chosen != "" {
		t.Errorf("a required choice starts as %q, not empty", chosen)
	}
	if strings.Contains(hint, "_") || strings.Contains(hint, "codes") {
		t.Errorf("the choice's hint shows codes: %q", hint)
	}
	run(t, b, "fill the launch notice with a bad impact area",
		chromedp.SetValue("#f-vehicle", "space_launch", chromedp.ByID),
		chromedp.SendKeys("#f-launch_area", "circle:40.95N,100.29E,10", chromedp.ByID),
		chromedp.SendKeys("#f-impact_area", "polygon:20,120;20,124", chromedp.ByID),
		chromedp.SendKeys("#f-window_start", start, chromedp.ByID),
		chromedp.SendKeys("#f-window_end", end, chromedp.ByID),
		submit("form.phrase-form button"),
		chromedp.WaitVisible("#err-impact_area", chromedp.ByID),
		textOf("#err-impact_area", &errText),
		chromedp.AttributeValue("#f-impact_area", "aria-invalid", &invalid, &ok, chromedp.ByID),
	)
	if !strings.Contains(errText, "3 to 32 corners") || invalid != "true" {
		t.Fatalf("impact area error %q, aria-invalid %q", errText, invalid)
	}
	// Post-redirect-get: the page is the channel's, the focus on the
	// summary at its top, which links to the field; a reload posts
	// nothing.
	var after struct {
		Path, Focus, Link string
	}
	run(t, b, "the error summary has the focus", chromedp.Evaluate(`({Path: location.pathname, Focus: document.activeElement.id,
		Link: (document.querySelector("#errors a") || {}).getAttribute("href")})`, &after))
	if strings.HasSuffix(after.Path, "/send") || after.Focus != "errors" || after.Link != "#f-impact_area" {
		t.Fatalf("after a refused phrase: %+v", after)
	}
	run(t, b, "reload", chromedp.Reload(), chromedp.WaitVisible("#err-impact_area", chromedp.ByID))
	// The values typed are kept; fixing the area runs into the 24 h notice.
	run(t, b, "fix the area",
		chromedp.SetValue("#f-impact_area", "polygon:20,120;20,124;16.5,124", chromedp.ByID),
		submit("form.phrase-form button"),
		chromedp.WaitVisible("#err-window_start", chromedp.ByID),
		textOf("#err-window_start", &errText),
	)
	if !strings.Contains(errText, "notice") {
		t.Fatalf("window start error %q", errText)
	}
	if got := countMessages(t, alpha, "alpha-bravo-theatre"); got != before {
		t.Fatalf("invalid phrases sent %d messages", got-before)
	}
	screenshot(t, b, "compose-error-alpha")

	// A valid phrase is shown in both languages before it is signed.
	var previews []string
	run(t, b, "a communications check",
		chromedp.Navigate(channelURL(t, alpha, "alpha-bravo-theatre")+"?phrase=COMMS-CHECK#compose"),
		submit("form.phrase-form button"),
		chromedp.WaitVisible("blockquote.preview", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("blockquote.preview")).map(e => e.lang + ": " + e.textContent)`, &previews))
	if len(previews) != 2 || !strings.HasPrefix(previews[0], "en: Communications check") || !strings.HasPrefix(previews[1], "zh-Hans: 通信检查") {
		t.Fatalf("the previews: %q", previews)
	}
	if got := countMessages(t, alpha, "alpha-bravo-theatre"); got != before {
		t.Fatal("a phrase was sent before it was confirmed")
	}
	run(t, b, "confirm", submit("main form button.primary"), chromedp.WaitVisible(`p.ok[role="status"]`, chromedp.ByQuery))
	if got := countMessages(t, alpha, "alpha-bravo-theatre"); got != before+1 {
		t.Fatalf("%d messages sent on confirmation", got-before)
	}
}

// TestConsole_ThrottleAfterWrongPasswords: after five wrong passwords
// from one address, that address must wait: even the right password is
// refused for now, with a message that says so and until when. (Another
// address still logs in: account.TestAuthenticate_ThrottlesTheGuesserNotTheOfficer.)
func TestConsole_ThrottleAfterWrongPasswords(t *testing.T) {
	net := network(t)
	alpha := net.Party("alpha")
	b := browser(t)
	var msg string
	for i := 1; i <= account.MaxFailures; i++ {
		login(t, b, alpha, "wrong password number "+fmt.Sprint(i))
		run(t, b, "read the error", textOf("#login-error", &msg))
		if !strings.Contains(msg, "Wrong operator name, password or code") {
			t.Fatalf("failure %d: %q", i, msg)
		}
	}
	login(t, b, alpha, password)
	run(t, b, "read the error", textOf("#login-error", &msg))
	if !strings.Contains(msg, "Too many failed attempts") {
		t.Fatalf("right password after %d failures from this address: %q", account.MaxFailures, msg)
	}
}

// TestConsole_CSRFIsRequired: a form post or an API write with a valid
// session cookie but without the session's CSRF token is refused and
// writes nothing; with the token it works.
func TestConsole_CSRFIsRequired(t *testing.T) {
	net := network(t)
	alpha := net.Party("alpha")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := alpha.Server.APIURL()
	link := alpha.Server.Console.LoginLink(devnet.Operator)
	resp, err := hc.Get(base + link)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("one-time link: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, _ := hc.Get(base + link); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("one-time link used twice: %d", resp.StatusCode)
	}
	page, err := hc.Get(channelURL(t, alpha, "alpha-bravo-policy"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	_, rest, _ := strings.Cut(string(body), `<meta name="csrf-token" content="`)
	token, _, _ := strings.Cut(rest, `"`)
	if len(token) < 40 {
		t.Fatalf("no CSRF token in the page")
	}
	before := countMessages(t, alpha, "alpha-bravo-policy")
	send := channelURL(t, alpha, "alpha-bravo-policy") + "/send"
	resp, err = hc.PostForm(send, url.Values{"text": {"forged"}, "lang": {"en"}})
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form post without CSRF token: %v %v", resp.Status, err)
	}
	resp, _ = hc.PostForm(send, url.Values{"text": {"forged"}, "lang": {"en"}, "csrf": {"wrong" + token}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form post with a wrong CSRF token: %s", resp.Status)
	}
	apiSend := base + "/api/v1/channels/alpha-bravo-policy/messages"
	resp, _ = hc.Post(apiSend, "application/json", strings.NewReader(`{"text":"forged","lang":"en"}`))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API write with a session and no CSRF header: %s", resp.Status)
	}
	if got := countMessages(t, alpha, "alpha-bravo-policy"); got != before {
		t.Fatalf("refused posts wrote %d messages", got-before)
	}
	req, _ := http.NewRequest(http.MethodPost, apiSend, strings.NewReader(`{"text":"genuine","lang":"en"}`))
	req.Header.Set("X-CSRF-Token", token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("API write with the session's token: %v %v", resp.Status, err)
	}
	resp, _ = hc.PostForm(send, url.Values{"text": {"genuine form"}, "lang": {"en"}, "csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form post with the token: %s", resp.Status)
	}
	if got := countMessages(t, alpha, "alpha-bravo-policy"); got != before+2 {
		t.Fatalf("%d messages written, want 2", got-before)
	}
}
