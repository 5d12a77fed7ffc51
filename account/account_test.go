package account

import (
	"context"
	"encoding/base32"
	"errors"
	"path/filepath"
	"strings"
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
	if !VerifyTOTP(secret, "005924", now) || !VerifyTOTP(secret, "005 924", now.Add(25*time.Second)) {
		t.Error("current code refused")
	}
	if VerifyTOTP(secret, "005924", now.Add(90*time.Second)) || VerifyTOTP(secret, "", now) || VerifyTOTP(secret, "5924", now) {
		t.Error("stale or malformed code accepted")
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
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, _ := HashPassword("correct horse battery staple")
	secret := NewTOTPSecret()
	if err := st.PutOperator(ctx, hotline.Operator{Name: "duty", Password: h, TOTP: secret}); err != nil {
		t.Fatal(err)
	}
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
