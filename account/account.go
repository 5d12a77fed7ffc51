// Package account checks the people who log in to a party's node: their
// passwords (argon2id), their second factor (TOTP, RFC 6238), and the
// lock-out that slows down guessing.
package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/hotline-project/hotline"
)

// Argon2id parameters: the OWASP recommendation of 19 MiB, two passes,
// one lane. Stored with each hash, so they can be raised later without
// invalidating older hashes.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// MaxPasswordLen bounds the work one login attempt can ask for.
const MaxPasswordLen = 1024

// HashPassword returns an argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordStrength(password); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPasswordStrength refuses passwords too short or too long.
func CheckPasswordStrength(password string) error {
	if len([]rune(password)) < MinPasswordLen {
		return hotline.Errorf(hotline.EINVALID, "a password needs at least %d characters (a passphrase of several words is easiest)", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return hotline.Errorf(hotline.EINVALID, "a password is at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// VerifyPassword reports whether password matches an encoded hash.
func VerifyPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("account: not an argon2id hash")
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("account: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<22 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("account: bad argon2 parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false, errors.New("account: bad argon2 hash encoding")
	}
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when the operator does not exist, so that
// a wrong name costs the same time as a wrong password.
var dummyHash, _ = HashPassword("not a password of anybody")

// ErrBadCredentials is a wrong operator name, password or code. It does
// not say which.
var ErrBadCredentials = &hotline.Error{Code: hotline.EUNAUTHORIZED, Message: "wrong operator name, password or code"}

// Authenticate checks a login attempt from source (the client's address)
// against the operator's account, within the throttle th (see Throttle):
// a source that failed too often is refused with a *ThrottledError before
// anything is checked. code is the TOTP code, required when the account
// has a second factor; a code is accepted once, and never one older than
// the last accepted (RFC 6238, section 5.2). A disabled operator cannot
// log in. A wrong name costs the same time as a wrong password, and
// neither answers nor throttling say whether a name exists.
//
// Attempts on one account are taken one at a time, each reading what the
// one before recorded. The account's count of failures is kept for
// `hotline operator list`; it locks nobody out.
func Authenticate(ctx context.Context, st hotline.Store, th *Throttle, source, name, password, code string, now time.Time) (hotline.Operator, error) {
	done, err := th.begin(source, name, now)
	if err != nil {
		return hotline.Operator{}, err
	}
	op, err := authenticate(ctx, st, name, password, code, now)
	done(err == nil)
	return op, err
}

func authenticate(ctx context.Context, st hotline.Store, name, password, code string, now time.Time) (hotline.Operator, error) {
	op, err := st.Operator(ctx, name)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND || (err == nil && op.Password == "") {
		if _, err := verifyBounded(ctx, dummyHash, password); err != nil {
			return hotline.Operator{}, err
		}
		return hotline.Operator{}, ErrBadCredentials
	}
	if err != nil {
		return hotline.Operator{}, err
	}
	defer lockAccount(name)()
	if op, err = st.Operator(ctx, name); err != nil {
		return hotline.Operator{}, err
	}
	ok, err := verifyBounded(ctx, op.Password, password)
	if err != nil {
		return hotline.Operator{}, fmt.Errorf("operator %s: stored password: %w", name, err)
	}
	step := op.TOTPStep
	if ok && op.TOTP != "" {
		var s int64
		s, ok = VerifyTOTP(op.TOTP, code, now)
		ok = ok && s > op.TOTPStep
		step = s
	}
	if !ok || op.Disabled {
		if err := st.SetLoginState(ctx, name, op.Failures+1, time.Time{}, op.TOTPStep); err != nil {
			return hotline.Operator{}, err
		}
		return hotline.Operator{}, ErrBadCredentials
	}
	if op.Failures != 0 || !op.LockedUntil.IsZero() || step != op.TOTPStep {
		op.Failures, op.LockedUntil, op.TOTPStep = 0, time.Time{}, step
		if err := st.SetLoginState(ctx, name, 0, time.Time{}, step); err != nil {
			return hotline.Operator{}, err
		}
	}
	return op, nil
}

// accountLocks holds one mutex per existing account name (so it grows
// only with the accounts, not with the names people try).
var accountLocks sync.Map

// lockAccount takes name's lock and returns its release.
func lockAccount(name string) func() {
	m, _ := accountLocks.LoadOrStore(name, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// verifying bounds the argon2id computations running at once, each of
// which takes argonMemory: a flood of login attempts waits its turn
// instead of exhausting the node's memory.
var verifying = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// verifyBounded is VerifyPassword once a verification slot is free.
func verifyBounded(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case verifying <- struct{}{}:
		defer func() { <-verifying }()
		return VerifyPassword(encoded, password)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
