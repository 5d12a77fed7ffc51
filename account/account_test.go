package account

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/sqlite"
)

func TestTOTP_RFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string // the last six digits of RFC 6238's SHA-1 vectors
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := TOTPCode(secret, time.Unix(v.unix, 0))
		if err != nil || got != v.code {
			t.Errorf("T=%d: %q, %v; want %s", v.unix, got, err, v.code)
		}
	}
	now := time.Unix(1234567890, 0)
	const step = 1234567890 / 30
	for _, at := range []time.Time{now, now.Add(25 * time.Second), now.Add(-20 * time.Second)} {
		if s, ok := VerifyTOTP(secret, "005 924", at); !ok || s != step {
			t.Errorf("at %s: step %d, %v; want %d", at, s, ok, step)
		}
	}
	for _, c := range []struct {
		code string
		at   time.Time
	}{{"005924", now.Add(90 * time.Second)}, {"005924", now.Add(-60 * time.Second)}, {"", now}, {"5924", now}} {
		if _, ok := VerifyTOTP(secret, c.code, c.at); ok {
			t.Errorf("stale or malformed code %q at %s accepted", c.code, c.at)
		}
	}
	if u := TOTPURI("hotline alpha", "duty", "ABC"); !strings.HasPrefix(u, "otpauth://totp/hotline%20alpha:duty?") || !strings.Contains(u, "secret=ABC") {
		t.Errorf("uri %s", u)
	}
}

func TestPassword_HashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q, %v", h, err)
	}
	if ok, err := VerifyPassword(h, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct horse battery stapler"); ok {
		t.Error("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword("short"); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("short password: %v", err)
	}
	for _, bad := range []string{"", "$bcrypt$x", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=8,t=1,p=1$!!$AAAA"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
}

// TestAuthenticate_ThrottlesTheGuesserNotTheOfficer: failures from one
// address make that address wait, doubling, whatever name it tries (and
// with the same answers whether the name exists or not); the officer at
// another address still logs in with the right password and code.
func TestAuthenticate_ThrottlesTheGuesserNotTheOfficer(t *testing.T) {
	ctx := context.Background()
	st, secret := storeWithOperator(t)
	th := NewThrottle(nil)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	const attacker, desk, pw = "203.0.113.9", "10.0.0.5", "correct horse battery staple"
	code, _ := TOTPCode(secret, now)
	if _, err := Authenticate(ctx, st, th, desk, "duty", pw, code, now); err != nil {
		t.Fatalf("right password and code: %v", err)
	}
	if _, err := Authenticate(ctx, st, th, desk, "duty", pw, "", now); err != ErrBadCredentials {
		t.Fatalf("missing code: %v", err)
	}
	// The attacker tries a real name and an unknown one: the same answers.
	for i := range MaxFailures {
		name := []string{"duty", "nobody"}[i%2]
		if _, err := Authenticate(ctx, st, th, attacker, name, "wrong guess", "000000", now); err != ErrBadCredentials {
			t.Fatalf("failure %d (%s): %v", i+1, name, err)
		}
	}
	var throttled *ThrottledError
	for _, name := range []string{"duty", "nobody"} {
		if _, err := Authenticate(ctx, st, th, attacker, name, pw, code, now.Add(time.Second)); !errors.As(err, &throttled) || !throttled.Until.Equal(now.Add(ThrottleBase)) {
			t.Fatalf("sixth attempt on %s: %v", name, err)
		}
	}
	// The officer, at a desk with no recent failures, is not held up.
	later := now.Add(40 * time.Second)
	code, _ = TOTPCode(secret, later)
	if _, err := Authenticate(ctx, st, th, desk, "duty", pw, code, later); err != nil {
		t.Fatalf("the officer while the attacker waits: %v", err)
	}
	// The attacker's next failure doubles its wait.
	if _, err := Authenticate(ctx, st, th, attacker, "duty", "wrong again", "000000", later); err != ErrBadCredentials {
		t.Fatalf("after the wait: %v", err)
	}
	if _, err := Authenticate(ctx, st, th, attacker, "duty", pw, code, later.Add(time.Second)); !errors.As(err, &throttled) || !throttled.Until.Equal(later.Add(2*ThrottleBase)) {
		t.Fatalf("after a further failure: %v", err)
	}
	if waitFor(100, MaxFailures) != ThrottleMax {
		t.Errorf("wait is not capped: %s", waitFor(100, MaxFailures))
	}
	// The failures stay visible to the administrators.
	if op, _ := st.Operator(ctx, "duty"); op.Failures != 1 { // the officer's success cleared the earlier ones
		t.Fatalf("failures on the account not counted: %+v", op)
	}
}

// TestAuthenticate_ManyAddressesSlowDownOnTheAccount: guessing one
// account from many addresses, each under its own threshold, makes every
// address that failed on it wait once the account has AccountFailures;
// an address that never failed still logs in.
func TestAuthenticate_ManyAddressesSlowDownOnTheAccount(t *testing.T) {
	ctx := context.Background()
	st, secret := storeWithOperator(t)
	th := NewThrottle(nil)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for i := range AccountFailures {
		src := fmt.Sprintf("198.51.100.%d", i/2)
		if _, err := Authenticate(ctx, st, th, src, "duty", "guess "+strings.Repeat("x", i), "000000", now); err != ErrBadCredentials {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	var throttled *ThrottledError
	if _, err := Authenticate(ctx, st, th, "198.51.100.0", "duty", "one more", "000000", now); !errors.As(err, &throttled) {
		t.Fatalf("an address that failed on the account: %v", err)
	}
	code, _ := TOTPCode(secret, now)
	if _, err := Authenticate(ctx, st, th, "10.0.0.5", "duty", "correct horse battery staple", code, now); err != nil {
		t.Fatalf("a clean address: %v", err)
	}
}

// TestAuthenticate_DisabledOperator: a disabled operator cannot log in,
// with the answer a wrong password gets.
func TestAuthenticate_DisabledOperator(t *testing.T) {
	ctx := context.Background()
	st, secret := storeWithOperator(t)
	if err := st.SetOperatorDisabled(ctx, "duty", true); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code, _ := TOTPCode(secret, now)
	if _, err := Authenticate(ctx, st, nil, "10.0.0.5", "duty", "correct horse battery staple", code, now); err != ErrBadCredentials {
		t.Fatalf("disabled operator: %v", err)
	}
}

// storeWithOperator opens a real store holding operator "duty" with the
// password "correct horse battery staple" and a TOTP second factor.
func storeWithOperator(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, _ := HashPassword("correct horse battery staple")
	secret := NewTOTPSecret()
	if err := st.PutOperator(ctx, hotline.Operator{Name: "duty", Password: h, TOTP: secret, Lang: "zh-Hans"}); err != nil {
		t.Fatal(err)
	}
	return st, secret
}

// TestAuthenticate_EachTOTPCodeLogsInOnce: a code someone saw over an
// operator's shoulder, or in a replayed request, does not log in again
// within its window, nor does an older code; the next step's code does.
func TestAuthenticate_EachTOTPCodeLogsInOnce(t *testing.T) {
	ctx := context.Background()
	st, secret := storeWithOperator(t)
	const pw = "correct horse battery staple"
	now := time.Date(2026, 11, 25, 3, 0, 10, 0, time.UTC)
	code, _ := TOTPCode(secret, now)
	earlier, _ := TOTPCode(secret, now.Add(-30*time.Second))
	if _, err := Authenticate(ctx, st, nil, "10.0.0.5", "duty", pw, code, now); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := Authenticate(ctx, st, nil, "10.0.0.5", "duty", pw, code, now.Add(5*time.Second)); err != ErrBadCredentials {
		t.Fatalf("the same code again: %v", err)
	}
	if _, err := Authenticate(ctx, st, nil, "10.0.0.5", "duty", pw, earlier, now.Add(5*time.Second)); err != ErrBadCredentials {
		t.Fatalf("an older code: %v", err)
	}
	if op, _ := st.Operator(ctx, "duty"); op.Failures != 2 {
		t.Fatalf("replayed codes counted as %d failures, want 2", op.Failures)
	}
	next, _ := TOTPCode(secret, now.Add(30*time.Second))
	if _, err := Authenticate(ctx, st, nil, "10.0.0.5", "duty", pw, next, now.Add(30*time.Second)); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
	// Login state is all Authenticate writes: the language stays.
	if op, _ := st.Operator(ctx, "duty"); op.Failures != 0 || op.Lang != "zh-Hans" || op.TOTPStep != now.Unix()/30+1 {
		t.Fatalf("after the next code: %+v", op)
	}
}

// TestAuthenticate_ParallelGuessesAreAllCounted: wrong passwords sent at
// once from one address are all counted before any is checked: the first
// MaxFailures are refused as wrong, the rest must wait.
func TestAuthenticate_ParallelGuessesAreAllCounted(t *testing.T) {
	ctx := context.Background()
	st, _ := storeWithOperator(t)
	th := NewThrottle(nil)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	const tries = MaxFailures + 3
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			_, errs[i] = Authenticate(ctx, st, th, "203.0.113.9", "duty", "guess number "+strings.Repeat("x", i), "000000", now)
		})
	}
	wg.Wait()
	bad, throttled := 0, 0
	for _, err := range errs {
		var l *ThrottledError
		switch {
		case err == ErrBadCredentials:
			bad++
		case errors.As(err, &l):
			throttled++
		default:
			t.Fatalf("guess: %v", err)
		}
	}
	if bad != MaxFailures || throttled != tries-MaxFailures {
		t.Fatalf("%d refused as wrong and %d made to wait; want %d and %d", bad, throttled, MaxFailures, tries-MaxFailures)
	}
	if op, _ := st.Operator(ctx, "duty"); op.Failures != MaxFailures {
		t.Fatalf("after %d parallel guesses: %d failures counted", tries, op.Failures)
	}
}
