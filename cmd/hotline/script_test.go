package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotline-project/hotline/devnet"
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"as":      cmdAs,
			"envfile": cmdEnvFile,
			"ready":   cmdReady,
			"until":   cmdUntil,
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
