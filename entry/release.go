package entry

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
)

// Personal signatures: an operator's own key, registered with the party,
// signs a message's content; the party publishes its operators' keys and
// roles in a roster entry in each channel. See package release.

// KindRoster publishes the author party's operators' personal keys and
// roles in a channel; a party's newest roster replaces its older ones.
const KindRoster Kind = "roster"

// Personal key types.
const (
	KeyEd25519  = "ed25519"  // Public is the 32-byte Ed25519 key (a file, or an ssh-agent's)
	KeyWebAuthn = "webauthn" // Public is the COSE key of a WebAuthn credential (a passkey)
)

// PersonalKey is an operator's personal public key.
type PersonalKey struct {
	Type   string `cbor:"1,keyasint" json:"type"`
	Public []byte `cbor:"2,keyasint" json:"public"`
	// ID and RPID are a WebAuthn credential's id and relying party id
	// (the console's host name): an assertion names both.
	ID   []byte `cbor:"3,keyasint,omitempty" json:"id,omitempty"`
	RPID string `cbor:"4,keyasint,omitempty" json:"rp_id,omitempty"`
}

// Limits on personal keys and releases.
const (
	MaxPersonalKey    = 1024 // bytes of a COSE key or credential id
	MaxReleases       = 8    // personal signatures on one message
	MaxRosterEntries  = 256  // operators' keys in one roster
	MaxWebAuthnFields = 4096 // bytes of authenticator data or client data
)

// Check validates a personal key's form (not that the key parses: see
// package release).
func (k *PersonalKey) Check() error {
	switch k.Type {
	case KeyEd25519:
		if len(k.Public) != 32 || k.ID != nil || k.RPID != "" {
			return fmt.Errorf("%w: an ed25519 personal key is 32 bytes, with no credential id", ErrMalformed)
		}
	case KeyWebAuthn:
		if len(k.Public) == 0 || len(k.Public) > MaxPersonalKey || len(k.ID) == 0 || len(k.ID) > MaxPersonalKey || k.RPID == "" || len(k.RPID) > 253 {
			return fmt.Errorf("%w: a webauthn personal key has a COSE key, a credential id and a relying party id, each within bounds", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: personal key type %q: want %s or %s", ErrMalformed, k.Type, KeyEd25519, KeyWebAuthn)
	}
	return nil
}

// Equal reports whether two personal keys are the same key.
func (k *PersonalKey) Equal(o *PersonalKey) bool {
	return k.Type == o.Type && bytes.Equal(k.Public, o.Public) && bytes.Equal(k.ID, o.ID) && k.RPID == o.RPID
}

// Release is an operator's personal signature over a message's content
// (ReleaseStatement): by the drafter, or by an operator releasing the
// drafter's message.
type Release struct {
	Operator string      `cbor:"1,keyasint"`
	Key      PersonalKey `cbor:"2,keyasint"`
	// Sig is the signature: Ed25519 over the statement; for WebAuthn, the
	// assertion's signature over AuthData || SHA-256(ClientData), whose
	// challenge is SHA-256 of the statement.
	Sig        []byte `cbor:"3,keyasint"`
	AuthData   []byte `cbor:"4,keyasint,omitempty"`
	ClientData []byte `cbor:"5,keyasint,omitempty"`
}

// Check validates a release's form.
func (r *Release) Check() error {
	if err := CheckName("operator", r.Operator); err != nil {
		return err
	}
	if err := r.Key.Check(); err != nil {
		return err
	}
	if len(r.Sig) == 0 || len(r.Sig) > 512 {
		return fmt.Errorf("%w: a personal signature is 1 to 512 bytes", ErrMalformed)
	}
	webauthn := r.Key.Type == KeyWebAuthn
	if webauthn != (len(r.AuthData) > 0) || webauthn != (len(r.ClientData) > 0) || len(r.AuthData) > MaxWebAuthnFields || len(r.ClientData) > MaxWebAuthnFields {
		return fmt.Errorf("%w: a webauthn personal signature carries its authenticator data and client data, and no other does", ErrMalformed)
	}
	return nil
}

// releaseDomain separates personal signatures from every other.
const releaseDomain = "hotline release v1\n"

// ReleaseStatement is what a personal key signs for message m in channel
// ch: the domain, the channel id and the SHA-256 of m's canonical
// encoding without its releases. It binds the content (text, language,
// precedence, deadline, phrase, translations) and the channel; not the
// message's place in its feed, which is fixed only when the last release
// lets the party sign and send it.
func ReleaseStatement(ch ChannelID, m *Message) ([]byte, error) {
	bare := *m
	bare.Releases = nil
	b, err := encMode.Marshal(&bare)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	out := append([]byte(releaseDomain), ch[:]...)
	return append(out, sum[:]...), nil
}

// checkReleases validates the releases of a message: well formed, sorted
// by operator then key, one per operator.
func checkReleases(rs []Release) error {
	if len(rs) > MaxReleases {
		return fmt.Errorf("%w: a message carries at most %d personal signatures", ErrMalformed, MaxReleases)
	}
	for i := range rs {
		if err := rs[i].Check(); err != nil {
			return err
		}
		if i > 0 && rs[i-1].Operator >= rs[i].Operator {
			return fmt.Errorf("%w: personal signatures must be sorted by operator, one per operator", ErrMalformed)
		}
	}
	return nil
}

// Roster is the body of a roster entry: the author party's operators'
// personal keys and roles, sorted by operator then key.
type Roster struct {
	Keys []RosterKey `cbor:"1,keyasint"`
}

// RosterKey is one operator's key: valid from From (Unix ms) until Until
// (absent: still valid). A key removed stays listed with its Until, so
// what it signed before stays checkable.
type RosterKey struct {
	Operator string      `cbor:"1,keyasint" json:"operator"`
	Role     string      `cbor:"2,keyasint,omitempty" json:"role,omitempty"`
	Key      PersonalKey `cbor:"3,keyasint" json:"key"`
	From     int64       `cbor:"4,keyasint" json:"from"`
	Until    int64       `cbor:"5,keyasint,omitempty" json:"until,omitempty"`
}

// Check validates a roster.
func (r *Roster) Check() error {
	if len(r.Keys) > MaxRosterEntries {
		return fmt.Errorf("%w: a roster lists at most %d keys", ErrMalformed, MaxRosterEntries)
	}
	for i := range r.Keys {
		k := &r.Keys[i]
		if err := CheckName("operator", k.Operator); err != nil {
			return err
		}
		if err := checkText("role", k.Role, false); err != nil || len(k.Role) > MaxNameBytes*4 {
			return fmt.Errorf("%w: role of %s: at most %d bytes of text", ErrMalformed, k.Operator, MaxNameBytes*4)
		}
		if err := k.Key.Check(); err != nil {
			return err
		}
		if err := CheckTime("roster key start", k.From); err != nil {
			return err
		}
		if k.Until != 0 {
			if err := CheckTime("roster key end", k.Until); err != nil {
				return err
			}
			if k.Until <= k.From {
				return fmt.Errorf("%w: roster key of %s ends before it starts", ErrMalformed, k.Operator)
			}
		}
		if i > 0 && compareRosterKeys(&r.Keys[i-1], k) >= 0 {
			return fmt.Errorf("%w: roster keys must be sorted by operator then key, each once", ErrMalformed)
		}
	}
	return nil
}

// SortRoster sorts keys as a roster lists them.
func SortRoster(keys []RosterKey) {
	slices.SortFunc(keys, func(a, b RosterKey) int { return compareRosterKeys(&a, &b) })
}

func compareRosterKeys(a, b *RosterKey) int {
	if c := bytes.Compare([]byte(a.Operator), []byte(b.Operator)); c != 0 {
		return c
	}
	if c := bytes.Compare([]byte(a.Key.Type), []byte(b.Key.Type)); c != 0 {
		return c
	}
	if c := bytes.Compare(a.Key.Public, b.Key.Public); c != 0 {
		return c
	}
	return bytes.Compare(a.Key.ID, b.Key.ID)
}

// Lookup returns the roster's entry for operator's key k, if it lists it;
// a nil roster lists nothing.
func (r *Roster) Lookup(operator string, k *PersonalKey) (*RosterKey, bool) {
	if r == nil {
		return nil, false
	}
	for i := range r.Keys {
		if r.Keys[i].Operator == operator && r.Keys[i].Key.Equal(k) {
			return &r.Keys[i], true
		}
	}
	return nil, false
}
