package phrase

import (
	"crypto/ed25519"
	"testing"

	"github.com/hotline-project/hotline/entry"
)

// launchPhrase is the largest default template, with its examples.
func launchPhrase(b *testing.B) (*Template, *entry.Phrase) {
	c := Default()
	t, _ := c.Template("TH-LAUNCH-NOTICE")
	vals := map[string]string{}
	for _, f := range t.Fields {
		vals[f.Name] = f.Example
	}
	fields, err := t.Normalize(vals, Context{})
	if err != nil {
		b.Fatal(err)
	}
	return t, &entry.Phrase{Catalog: c.Hash(), Code: t.Code, Fields: fields}
}

// BenchmarkReceiveCheck is what a receiving node adds per phrase entry:
// check the values and render the text it compares with the signed one.
func BenchmarkReceiveCheck(b *testing.B) {
	t, p := launchPhrase(b)
	c := Default()
	for b.Loop() {
		if err := t.Check(p, Context{Parties: []string{"alpha", "bravo"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Render(p, "zh-Hans"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the signature check every entry already
// costs, measured in the same run as the yardstick.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 256)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkParseDefault is loading the built-in catalog at start.
func BenchmarkParseDefault(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(DefaultJSON()); err != nil {
			b.Fatal(err)
		}
	}
}
