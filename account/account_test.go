package account

import (
	"context"
	"encoding/base32"
	"errors"
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

func TestAuthenticate_LocksOutAfterRepeatedFailures(t *testing.T) {
	ctx := context.Background()
	st, secret := storeWithOperator(t)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	code, _ := TOTPCode(secret, now)
	if _, err := Authenticate(ctx, st, "duty", "correct horse battery staple", code, now); err != nil {
		t.Fatalf("right password and code: %v", err)
	}
	if _, err := Authenticate(ctx, st, "duty", "correct horse battery staple", "", now); err != ErrBadCredentials {
		t.Fatalf("missing code: %v", err)
	}
	if _, err := Authenticate(ctx, st, "nobody", "correct horse battery staple", code, now); err != ErrBadCredentials {
		t.Fatalf("unknown operator: %v", err)
	}
	for i := 2; i < MaxFailures; i++ {
		if _, err := Authenticate(ctx, st, "duty", "wrong", code, now); err != ErrBadCredentials {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	var locked *LockedError
	if _, err := Authenticate(ctx, st, "duty", "wrong", code, now); !errors.As(err, &locked) || !locked.Until.Equal(now.Add(LockBase)) {
		t.Fatalf("fifth failure: %v", err)
	}
	// Locked: even the right password is refused until the lock ends.
	if _, err := Authenticate(ctx, st, "duty", "correct horse battery staple", code, now.Add(10*time.Second)); !errors.As(err, &locked) {
		t.Fatalf("right password while locked: %v", err)
	}
	// Another failure after the lock doubles it.
	later := now.Add(LockBase + time.Second)
	if _, err := Authenticate(ctx, st, "duty", "wrong", code, later); !errors.As(err, &locked) || !locked.Until.Equal(later.Add(2*LockBase)) {
		t.Fatalf("sixth failure: %v", err)
	}
	after := later.Add(2*LockBase + time.Second)
	code, _ = TOTPCode(secret, after)
	op, err := Authenticate(ctx, st, "duty", "correct horse battery staple", code, after)
	if err != nil || op.Failures != 0 {
		t.Fatalf("after the lock: %+v, %v", op, err)
	}
	if stored, _ := st.Operator(ctx, "duty"); stored.Failures != 0 || !stored.LockedUntil.IsZero() {
		t.Fatalf("success did not clear the lock: %+v", stored)
	}
	if lockFor(100) != LockMax {
		t.Errorf("lock is not capped: %s", lockFor(100))
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
	if _, err := Authenticate(ctx, st, "duty", pw, code, now); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := Authenticate(ctx, st, "duty", pw, code, now.Add(5*time.Second)); err != ErrBadCredentials {
		t.Fatalf("the same code again: %v", err)
	}
	if _, err := Authenticate(ctx, st, "duty", pw, earlier, now.Add(5*time.Second)); err != ErrBadCredentials {
		t.Fatalf("an older code: %v", err)
	}
	if op, _ := st.Operator(ctx, "duty"); op.Failures != 2 {
		t.Fatalf("replayed codes counted as %d failures, want 2", op.Failures)
	}
	next, _ := TOTPCode(secret, now.Add(30*time.Second))
	if _, err := Authenticate(ctx, st, "duty", pw, next, now.Add(30*time.Second)); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
	// Login state is all Authenticate writes: the language stays.
	if op, _ := st.Operator(ctx, "duty"); op.Failures != 0 || op.Lang != "zh-Hans" || op.TOTPStep != now.Unix()/30+1 {
		t.Fatalf("after the next code: %+v", op)
	}
}

// TestAuthenticate_ParallelGuessesAreAllCounted: wrong passwords sent at
// once are taken one at a time, so none escapes the count: the account
// locks after MaxFailures of them, and the rest meet the lock.
func TestAuthenticate_ParallelGuessesAreAllCounted(t *testing.T) {
	ctx := context.Background()
	st, _ := storeWithOperator(t)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	const tries = MaxFailures + 3
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			_, errs[i] = Authenticate(ctx, st, "duty", "guess number "+strings.Repeat("x", i), "000000", now)
		})
	}
	wg.Wait()
	bad, locked := 0, 0
	for _, err := range errs {
		var l *LockedError
		switch {
		case err == ErrBadCredentials:
			bad++
		case errors.As(err, &l):
			locked++
		default:
			t.Fatalf("guess: %v", err)
		}
	}
	if bad != MaxFailures-1 || locked != tries-bad {
		t.Fatalf("%d refused as wrong and %d as locked; want %d and %d", bad, locked, MaxFailures-1, tries-MaxFailures+1)
	}
	if op, _ := st.Operator(ctx, "duty"); op.Failures != MaxFailures || !op.LockedUntil.Equal(now.Add(LockBase)) {
		t.Fatalf("after %d parallel guesses: %d failures, locked until %s", tries, op.Failures, op.LockedUntil)
	}
}
