package peer

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/hotline-project/hotline/entry"
)

// Heartbeat is a signed link test. A node sends one to every endpoint of
// every peer at a fixed interval, whether or not any channel is active, so
// each wire is known to work before it is needed; the peer answers with its
// own heartbeat echoing the nonce. Being signed with the party keys, an
// answer proves the peer's node itself answered, not only something holding
// its TLS key.
type Heartbeat struct {
	From  string   `cbor:"1,keyasint"`
	To    string   `cbor:"2,keyasint"`
	Time  int64    `cbor:"3,keyasint"` // sender's clock, Unix milliseconds
	Nonce [16]byte `cbor:"4,keyasint"`
	Reply bool     `cbor:"5,keyasint,omitempty"` // an answer to a heartbeat with this nonce
}

// signedHeartbeat is a heartbeat on the wire.
type signedHeartbeat struct {
	Body []byte `cbor:"1,keyasint"` // canonical encoding of a Heartbeat
	Sig  []byte `cbor:"2,keyasint"`
}

// heartbeatDomain separates heartbeat signatures from every other
// signature made with a party key.
const heartbeatDomain = "hotline heartbeat v1\n"

const maxHeartbeat = 512

// SignHeartbeat encodes and signs hb.
func SignHeartbeat(hb Heartbeat, key crypto.Signer) ([]byte, error) {
	body := marshal(hb)
	sig, err := entry.SignBytes(key, append([]byte(heartbeatDomain), body...))
	if err != nil {
		return nil, err
	}
	return marshal(signedHeartbeat{Body: body, Sig: sig}), nil
}

// ErrHeartbeatSignature is returned for a heartbeat whose signature does
// not verify.
var ErrHeartbeatSignature = errors.New("peer: heartbeat signature does not verify")

// DecodeHeartbeat decodes a signed heartbeat without checking its
// signature, so the caller can find the signer's key.
func DecodeHeartbeat(b []byte) (*Heartbeat, error) {
	_, hb, err := decodeHeartbeat(b)
	return hb, err
}

func decodeHeartbeat(b []byte) (*signedHeartbeat, *Heartbeat, error) {
	if len(b) > maxHeartbeat {
		return nil, nil, fmt.Errorf("%w: heartbeat is %d bytes, limit %d", ErrMalformed, len(b), maxHeartbeat)
	}
	var sh signedHeartbeat
	if err := decMode.Unmarshal(b, &sh); err != nil {
		return nil, nil, fmt.Errorf("%w: heartbeat: %v", ErrMalformed, err)
	}
	var hb Heartbeat
	if err := decMode.Unmarshal(sh.Body, &hb); err != nil {
		return nil, nil, fmt.Errorf("%w: heartbeat body: %v", ErrMalformed, err)
	}
	if err := entry.CheckTime("heartbeat time", hb.Time); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &sh, &hb, nil
}

// OpenHeartbeat decodes a signed heartbeat and checks its signature
// against pub.
func OpenHeartbeat(b []byte, pub ed25519.PublicKey) (*Heartbeat, error) {
	sh, hb, err := decodeHeartbeat(b)
	if err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, append([]byte(heartbeatDomain), sh.Body...), sh.Sig) {
		return nil, ErrHeartbeatSignature
	}
	return hb, nil
}
