package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/storecache"
)

// The node caches token and operator look-ups; a change made through
// another connection to the file (as the CLI makes while the node runs)
// takes effect at the node's next look-up, not at some later expiry.
func TestAccess_ChangesFromAnotherConnectionTakeEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	node, cli := open(t, path), open(t, path)
	defer node.Close()
	defer cli.Close()
	tok := sha256.Sum256([]byte("hl_duty"))
	if err := cli.PutOperator(ctx, hotline.Operator{Name: "duty", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := cli.AddOperatorToken(ctx, "duty", tok); err != nil {
		t.Fatal(err)
	}

	lookup := func() (string, error) { return node.OperatorByToken(ctx, tok) }
	for range 5 {
		if op, err := lookup(); err != nil || op != "duty" {
			t.Fatalf("look-up: %q, %v", op, err)
		}
		if op, err := node.Operator(ctx, "duty"); err != nil || op.Lang != "en" {
			t.Fatalf("operator: %+v, %v", op, err)
		}
	}
	if q := node.Access().Queries(); q != 2 {
		t.Fatalf("5 look-ups of a token and 5 of an operator ran %d queries; want 2 (then cached)", q)
	}

	// Another connection changes the language: the next look-up sees it.
	if err := cli.SetOperatorLang(ctx, "duty", "fr"); err != nil {
		t.Fatal(err)
	}
	if op, err := node.Operator(ctx, "duty"); err != nil || op.Lang != "fr" {
		t.Fatalf("after the language changed: %+v, %v", op, err)
	}

	// Disabled: the token stops working at once; enabled, it works again.
	if err := cli.SetOperatorDisabled(ctx, "duty", true); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("token of a disabled operator: %v, want ENOTFOUND", err)
	}
	if err := cli.SetOperatorDisabled(ctx, "duty", false); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(); err != nil {
		t.Fatalf("token after enable: %v", err)
	}

	// Revoked: the very next look-up fails.
	if _, err := cli.RevokeOperatorToken(ctx, fmt.Sprintf("%x", tok[:8])); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("revoked token: %v, want ENOTFOUND", err)
	}

	// Removed: the operator is gone for the node too.
	if err := cli.RemoveOperator(ctx, "duty"); err != nil {
		t.Fatal(err)
	}
	before := node.Access().Queries()
	for range 3 {
		if _, err := node.Operator(ctx, "duty"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
			t.Fatalf("removed operator: %v, want ENOTFOUND", err)
		}
	}
	// A name without an account is kept too: an operator with only API
	// tokens has none, and each of its sends asks for its language.
	if q := node.Access().Queries() - before; q != 1 {
		t.Fatalf("3 look-ups of an operator without an account ran %d queries; want 1", q)
	}
	if err := cli.PutOperator(ctx, hotline.Operator{Name: "duty", Lang: "de"}); err != nil {
		t.Fatal(err)
	}
	if op, err := node.Operator(ctx, "duty"); err != nil || op.Lang != "de" {
		t.Fatalf("after the account was made again: %+v, %v", op, err)
	}
}

// Unknown tokens are not cached, and known ones no more than the bound.
func TestAccess_TheCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	n := storecache.AccessSize + storecache.AccessSize/2
	for i := range n {
		tok := sha256.Sum256(fmt.Appendf(nil, "hl_%d", i))
		if err := s.AddOperatorToken(ctx, "duty", tok); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := s.OperatorByToken(ctx, sha256.Sum256(fmt.Appendf(nil, "hl_%d", i))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OperatorByToken(ctx, sha256.Sum256(fmt.Appendf(nil, "made up %d", i))); hotline.ErrorCode(err) != hotline.ENOTFOUND {
			t.Fatalf("made-up token: %v", err)
		}
	}
	held, _ := s.Access().Held()
	if held == 0 || held > storecache.AccessSize {
		t.Fatalf("cache holds %d tokens after %d distinct look-ups and %d misses; want 1..%d", held, n, n, storecache.AccessSize)
	}
}
