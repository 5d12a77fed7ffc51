package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/account"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/hostile"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/sqlite"
	"github.com/hotline-project/hotline/voicematch"
	"github.com/hotline-project/hotline/wav"
)

// TestMain lets the scripts run the test binary as the hotline command, in
// a process of its own (so `hotline serve &` is a real server process).
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"hotline": runProcess,
	}))
}

// TestScripts runs testdata/script/*.txtar: the README's walk-through and
// the command line contract, against real nodes on loopback.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			for _, name := range []string{"ALPHA_API", "ALPHA_PEER", "BRAVO_API", "BRAVO_PEER"} {
				addr, err := devnet.FreeAddr()
				if err != nil {
					return err
				}
				env.Setenv(name, addr)
			}
			return nil
		},
		// [postgres]: a PostgreSQL server is at hand (HOTLINE_POSTGRES_DSN);
		// with HOTLINE_REQUIRE_POSTGRES set, its absence fails the script.
		// [sshagent]: OpenSSH's ssh-agent, ssh-add and ssh-keygen are at
		// hand; with HOTLINE_REQUIRE_SSH_AGENT set, their absence fails.
		Condition: func(cond string) (bool, error) {
			if cond == "espeak" {
				if _, err := exec.LookPath("espeak-ng"); err != nil {
					if os.Getenv("HOTLINE_REQUIRE_ESPEAK") != "" {
						return false, errors.New("no espeak-ng, and HOTLINE_REQUIRE_ESPEAK is set")
					}
					return false, nil
				}
				return true, nil
			}
			if cond == "sshagent" {
				for _, prog := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
					if _, err := exec.LookPath(prog); err != nil {
						if os.Getenv("HOTLINE_REQUIRE_SSH_AGENT") != "" {
							return false, fmt.Errorf("no %s, and HOTLINE_REQUIRE_SSH_AGENT is set", prog)
						}
						return false, nil
					}
				}
				return true, nil
			}
			if cond != "postgres" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if os.Getenv("HOTLINE_POSTGRES_DSN") != "" {
				return true, nil
			}
			if os.Getenv("HOTLINE_REQUIRE_POSTGRES") != "" {
				return false, errors.New("no PostgreSQL server (HOTLINE_POSTGRES_DSN), and HOTLINE_REQUIRE_POSTGRES is set")
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"as":           cmdAs,
			"consolelogin": cmdConsoleLogin,
			"consolepage":  cmdConsolePage,
			"tokenid":      cmdTokenID,
			"equivocate":   cmdEquivocate,
			"devup":        cmdDevUp,
			"envfile":      cmdEnvFile,
			"ready":        cmdReady,
			"until":        cmdUntil,
			"sleep":        cmdSleep,
			"pgdatabase":   cmdPGDatabase,
			"pgserver":     cmdPGServer,
			"pgdropdev":    cmdPGDropDev,
			"sshagent":     cmdSSHAgent,
			"callat":       cmdCallAt,
			"heard":        cmdHeard,
			"recordingof":  cmdRecordingOf,
		},
	})
}

// as PARTY: point the client commands at PARTY's API, with the token that
// `hotline init` wrote to PARTY.token.
func cmdAs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: as PARTY")
	}
	p := args[0]
	ts.Setenv("HOTLINE_API", "http://"+ts.Getenv(strings.ToUpper(p)+"_API"))
	ts.Setenv("HOTLINE_TOKEN", strings.TrimSpace(ts.ReadFile(p+".token")))
}

// pgdatabase VAR: create an empty PostgreSQL database on the server
// HOTLINE_POSTGRES_DSN names, dropped when the script ends, and set VAR to
// its DSN. Scripts guard it with [!postgres] skip.
func cmdPGDatabase(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgdatabase VAR")
	}
	admin := os.Getenv("HOTLINE_POSTGRES_DSN")
	if admin == "" {
		ts.Fatalf("no PostgreSQL server: guard the script with [!postgres] skip")
	}
	dsn, drop, err := pgtest.Create(admin)
	ts.Check(err)
	ts.Defer(func() { ts.Check(drop()) })
	ts.Setenv(args[0], dsn)
}

// pgserver VAR: set VAR to the DSN of the PostgreSQL server the tests may
// create databases on. Scripts guard it with [!postgres] skip.
func cmdPGServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || os.Getenv("HOTLINE_POSTGRES_DSN") == "" {
		ts.Fatalf("usage: pgserver VAR, with HOTLINE_POSTGRES_DSN set")
	}
	ts.Setenv(args[0], os.Getenv("HOTLINE_POSTGRES_DSN"))
}

// pgdropdev DIR PARTY...: drop the databases hotline dev --postgres made
// for the parties of the network in DIR.
func cmdPGDropDev(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: pgdropdev DIR PARTY...")
	}
	for _, party := range args[1:] {
		name, err := devDatabase(ts.MkAbs(args[0]), party)
		ts.Check(err)
		ts.Check(postgres.DropDatabase(context.Background(), os.Getenv("HOTLINE_POSTGRES_DSN"), name))
	}
}

// envfile VAR FILE: set VAR to FILE's content, without surrounding space.
func cmdEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile VAR FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}

// ready ADDR: wait until the node whose API listens on ADDR is ready.
func cmdReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: ready ADDR")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + args[0] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s not ready after 20s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sleep DURATION: wait, for a background command to get going or to
// catch up (a Go duration).
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("sleep: %v", err)
	}
	time.Sleep(d)
}

// until REGEXP ARGS...: run `hotline ARGS...` until it succeeds and its
// output matches REGEXP (multi-line mode), for state that arrives from the
// other node. The last run's output becomes stdout and stderr.
func cmdUntil(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: until REGEXP ARGS...")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: ts.Getenv}
		code := run(context.Background(), env, args[1:])
		if code == 0 && re.Match(stdout.Bytes()) {
			fmt.Fprint(ts.Stdout(), stdout.String())
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("hotline %s: no output matching %q after 20s; last exit %d\nstdout:\n%s\nstderr:\n%s",
				strings.Join(args[1:], " "), args[0], code, stdout.String(), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consolelogin ADDR OPERATOR PASSWORD [TOTP-FILE]: log in to the console
// of the node whose API listens on ADDR, as a browser does: fetch the
// login page, post the form with its CSRF token and, given the output of
// `operator add --totp` in TOTP-FILE, the current code of its secret. It
// succeeds when the console starts a session; a refusal prints the page's
// error to stdout.
func cmdConsoleLogin(ts *testscript.TestScript, neg bool, args []string) {
	from, session := "", ""
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-from":
			from = args[1]
		case "-session":
			session = args[1]
		default:
			ts.Fatalf("consolelogin: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 3 && len(args) != 4 {
		ts.Fatalf("usage: consolelogin [-from IP] [-session FILE] ADDR OPERATOR PASSWORD [TOTP-FILE]")
	}
	jar, err := cookiejar.New(nil)
	ts.Check(err)
	hc := consoleClient(ts, from)
	hc.Jar = jar
	base := "http://" + args[0] + "/console/login"
	resp, err := hc.Get(base)
	ts.Check(err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	ts.Check(err)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		ts.Fatalf("no CSRF token in the login page (%s)", resp.Status)
	}
	form := url.Values{"csrf": {string(m[1])}, "operator": {args[1]}, "password": {args[2]}}
	if len(args) == 4 {
		secret := regexp.MustCompile(`secret (\S+)`).FindStringSubmatch(ts.ReadFile(args[3]))
		if secret == nil {
			ts.Fatalf("no TOTP secret in %s", args[3])
		}
		code, err := account.TOTPCode(secret[1], time.Now())
		ts.Check(err)
		form.Set("code", code)
	}
	resp, err = hc.PostForm(base, form)
	ts.Check(err)
	page, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	ts.Check(err)
	loggedIn := resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/console/"
	if !loggedIn {
		msg := regexp.MustCompile(`id="login-error">([^<]*)<`).FindSubmatch(page)
		if msg == nil {
			ts.Fatalf("login refused without a message: %s", resp.Status)
		}
		fmt.Fprintf(ts.Stdout(), "%s: %s\n", resp.Status, html.UnescapeString(string(msg[1])))
	}
	switch {
	case loggedIn && neg:
		ts.Fatalf("%s logged in", args[1])
	case !loggedIn && !neg:
		ts.Fatalf("%s could not log in: %s", args[1], resp.Status)
	}
	if session != "" && loggedIn {
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "hotline_session_") {
				ts.Check(os.WriteFile(ts.MkAbs(session), []byte(c.Name+"="+c.Value), 0o600))
			}
		}
	}
}

// consoleClient is an HTTP client that does not follow redirects, and
// connects from the loopback address from (another "desk"), if given.
func consoleClient(ts *testscript.TestScript, from string) *http.Client {
	tr := &http.Transport{}
	if from != "" {
		ip := net.ParseIP(from)
		if ip == nil {
			ts.Fatalf("-from %q is not an IP address", from)
		}
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// equivocate FROM TO CHANNEL: as the party whose node directory is FROM
// (its real keys: a compromised node), sign a second entry with the seq
// of the newest entry of its feed in CHANNEL and push it to the node in
// TO, which must keep the two as evidence of an equivocation.
func cmdEquivocate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: equivocate FROM TO CHANNEL")
	}
	ctx := context.Background()
	from, err := config.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	to, err := config.Open(ts.MkAbs(args[1]))
	ts.Check(err)
	st, err := sqlite.Open(ctx, from.StorePath())
	ts.Check(err)
	defer st.Close()
	chans, err := st.Channels(ctx)
	ts.Check(err)
	var ch *hotline.Channel
	for i := range chans {
		if chans[i].Label == args[2] {
			ch = &chans[i]
		}
	}
	if ch == nil {
		ts.Fatalf("no channel %s at %s", args[2], args[0])
	}
	feed, err := st.Feed(ctx, hotline.Feed{Channel: ch.ID, Party: from.Config.Party}, 1, 1<<20)
	ts.Check(err)
	a := hostile.New(from, to.Config.Party, to.Config.Peer.Listen, to.TLS.Fingerprint())
	defer a.Close()
	var es []*entry.Entry
	for _, f := range feed {
		es = append(es, f.Entry)
	}
	a.Adopt(ch.ID, es)
	a.Rewind(ch.ID, 1)
	twin, err := a.Sign(ch.ID, entry.KindMessage, &entry.Message{Text: "a different story", Lang: "en"})
	ts.Check(err)
	res, err := a.Client.Push(ctx, []*entry.Entry{twin})
	ts.Check(err)
	if len(res.Rejected) != 1 || res.Rejected[0].Reason != "equivocation" {
		ts.Fatalf("the twin entry was not refused as an equivocation: %+v", res)
	}
}

// tokenid VAR FILE: set VAR to the id hotline token list shows for the
// token in FILE (the first 16 hex digits of its SHA-256).
func cmdTokenID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tokenid VAR FILE")
	}
	h := api.HashToken(strings.TrimSpace(ts.ReadFile(args[1])))
	ts.Setenv(args[0], fmt.Sprintf("%x", h[:8]))
}

// consolepage ADDR SESSIONFILE: open the console's watch page with the
// session consolelogin -session saved; it fails when the session has
// ended (the console sends the browser to the login page).
func cmdConsolePage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: consolepage ADDR SESSIONFILE")
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+args[0]+"/console/", nil)
	ts.Check(err)
	req.Header.Set("Cookie", strings.TrimSpace(ts.ReadFile(args[1])))
	resp, err := consoleClient(ts, "").Do(req)
	ts.Check(err)
	resp.Body.Close()
	ok := resp.StatusCode == http.StatusOK
	fmt.Fprintf(ts.Stdout(), "%s\n", resp.Status)
	switch {
	case ok && neg:
		ts.Fatalf("the session still opens the console")
	case !ok && !neg:
		ts.Fatalf("the session no longer opens the console: %s", resp.Status)
	}
}

// devup DIR: wait (up to a minute) until the hotline dev network in DIR is
// up, which its dev.json says, and set ALPHA_URL, ALPHA_TOKEN, BRAVO_URL
// and BRAVO_TOKEN from it.
func cmdDevUp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: devup DIR")
	}
	path := ts.MkAbs(filepath.Join(args[0], "dev.json"))
	deadline := time.Now().Add(time.Minute)
	var b []byte
	for {
		var err error
		if b, err = os.ReadFile(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no %s after a minute: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var m devnet.Manifest
	ts.Check(json.Unmarshal(b, &m))
	for _, p := range m.Parties {
		ts.Setenv(strings.ToUpper(p.Name)+"_URL", p.API)
		ts.Setenv(strings.ToUpper(p.Name)+"_TOKEN", p.Token)
	}
}

// sshagent start|stop|restart|add VAR: run a real ssh-agent for the
// script, on $WORK/agent.sock, holding a new Ed25519 key: start makes the
// key and sets SSH_AUTH_SOCK and AGENT_KEY (its SHA256 fingerprint); add
// makes another key, adds it and sets VAR to its fingerprint; stop kills
// the agent; restart starts it again with every key. Scripts guard it
// with [!sshagent] skip.
func cmdSSHAgent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || (args[0] == "add") != (len(args) == 2) {
		ts.Fatalf("usage: sshagent start|stop|restart|add VAR")
	}
	sock, key := ts.MkAbs("agent.sock"), ts.MkAbs("party_ed25519")
	keys := []string{key}
	if b, err := os.ReadFile(ts.MkAbs("agent.keys")); err == nil {
		keys = append(keys, strings.Fields(string(b))...)
	}
	newKey := func(file string) string {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", file).CombinedOutput(); err != nil {
			ts.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub").Output()
		ts.Check(err)
		f := strings.Fields(string(out))
		if len(f) < 2 {
			ts.Fatalf("ssh-keygen -l printed %q", out)
		}
		return f[1]
	}
	addKeys := func(files ...string) {
		add := exec.Command("ssh-add", files...)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			ts.Fatalf("ssh-add: %v: %s", err, out)
		}
	}
	stop := func() {
		if b, err := os.ReadFile(ts.MkAbs("agent.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			os.Remove(ts.MkAbs("agent.pid"))
		}
		os.Remove(sock)
	}
	run := func() {
		cmd := exec.Command("ssh-agent", "-D", "-a", sock)
		ts.Check(cmd.Start())
		go cmd.Wait()
		ts.Check(os.WriteFile(ts.MkAbs("agent.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("ssh-agent made no socket within 10s")
			}
		}
		addKeys(keys...)
	}
	switch args[0] {
	case "start":
		fp := newKey(key)
		run()
		ts.Defer(stop)
		ts.Setenv("SSH_AUTH_SOCK", sock)
		ts.Setenv("AGENT_KEY", fp)
	case "add":
		file := ts.MkAbs(strings.ToLower(args[1]) + "_ed25519")
		fp := newKey(file)
		addKeys(file)
		f, err := os.OpenFile(ts.MkAbs("agent.keys"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		ts.Check(err)
		fmt.Fprintln(f, file)
		ts.Check(f.Close())
		ts.Setenv(args[1], fp)
	case "stop":
		stop()
	case "restart":
		stop()
		run()
	default:
		ts.Fatalf("usage: sshagent start|stop|restart|add VAR")
	}
}

// callat VAR: set VAR to a call time a minute from now (RFC 3339), so a
// call accepted for it can be joined at once.
func cmdCallAt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: callat VAR")
	}
	ts.Setenv(args[0], time.Now().Add(time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339))
}

// heard RECORDING SPEECH: the recording (a WAV file call join wrote)
// holds the speech (a WAV file): at least half of its half-seconds of
// sound are found in it (voicematch.Coverage).
func cmdHeard(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: heard RECORDING SPEECH")
	}
	rec, err := wav.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	speech, err := wav.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	found, total := voicematch.Coverage(speech.Resample(conference.SampleRate), rec.Resample(conference.SampleRate))
	ts.Logf("%s in %s: %d of %d half-seconds of sound found", args[1], args[0], found, total)
	if ok := total > 0 && 2*found >= total; ok == neg {
		ts.Fatalf("%s in %s: %d of %d half-seconds found", args[1], args[0], found, total)
	}
}

// recordingof VAR DIR: set VAR to the one call recording under the node
// directory DIR (DIR/calls/CHANNEL/CALL/*.wav).
func cmdRecordingOf(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: recordingof VAR DIR")
	}
	found, err := filepath.Glob(filepath.Join(ts.MkAbs(args[1]), "calls", "*", "*", "*.wav"))
	ts.Check(err)
	if len(found) != 1 {
		ts.Fatalf("%d recordings under %s, want 1: %v", len(found), args[1], found)
	}
	ts.Setenv(args[0], found[0])
}
