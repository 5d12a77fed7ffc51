package entry

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// KindKey is a key change: from the entry after it on, the author's feed
// is signed by the key it names. The entry itself is signed by the key it
// replaces; the new key signs the statement too (KeyChange.Sig), so
// neither key can be moved on without the other.
const KindKey Kind = "key"

// KeyChange is the body of a key entry.
type KeyChange struct {
	// Key is the author's new signed-note verifier key.
	Key string `cbor:"1,keyasint"`
	// TLS is the fingerprint (sha256:<hex>) of the author's new TLS key:
	// the peer link accepts it from this point on.
	TLS string `cbor:"2,keyasint"`
	// Sig is the new key's Ed25519 signature over KeyChangeMessage.
	Sig []byte `cbor:"3,keyasint"`
}

// maxKeyBytes bounds a verifier key: a 64-byte name, a hash and a
// base64 Ed25519 key take well under it.
const maxKeyBytes = 160

// Check validates a key change body. That Key is a well-formed verifier
// key of the author, and that Sig verifies, need the key's parser: the
// node and the auditor check them (see package keychain).
func (k *KeyChange) Check() error {
	if k.Key == "" || len(k.Key) > maxKeyBytes || strings.ContainsAny(k.Key, " \t\n") {
		return fmt.Errorf("%w: key change: new key %q is not a verifier key", ErrMalformed, k.Key)
	}
	hexFP, ok := strings.CutPrefix(k.TLS, "sha256:")
	if b, err := hex.DecodeString(hexFP); !ok || err != nil || len(b) != 32 || hexFP != strings.ToLower(hexFP) {
		return fmt.Errorf("%w: key change: TLS fingerprint %q is not sha256:<64 lowercase hex digits>", ErrMalformed, k.TLS)
	}
	if len(k.Sig) != 64 {
		return fmt.Errorf("%w: key change: the new key's signature is %d bytes, want 64", ErrMalformed, len(k.Sig))
	}
	return nil
}

// keyChangeDomain separates the new key's signature from every other
// signature made with it.
const keyChangeDomain = "hotline key change v1\n"

// KeyChangeMessage is what the new key signs: the domain, the channel id,
// the key entry's seq (8 bytes, big-endian), then the old key, the new
// key and the new TLS fingerprint, each followed by a newline. It binds
// the new key to one position of one feed and to the key it succeeds.
func KeyChangeMessage(ch ChannelID, seq uint64, oldKey, newKey, tls string) []byte {
	b := make([]byte, 0, len(keyChangeDomain)+len(ch)+8+len(oldKey)+len(newKey)+len(tls)+3)
	b = append(b, keyChangeDomain...)
	b = append(b, ch[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	for _, s := range []string{oldKey, newKey, tls} {
		b = append(b, s...)
		b = append(b, '\n')
	}
	return b
}
