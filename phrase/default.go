package phrase

import (
	_ "embed"
	"fmt"
	"sync"
)

//go:embed default.json
var defaultJSON []byte

// DefaultJSON returns the catalog file shipped in the binary.
func DefaultJSON() []byte { return defaultJSON }

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := Parse(defaultJSON)
	if err != nil {
		panic(fmt.Sprintf("phrase: the default catalog is invalid: %v", err))
	}
	return c
})

// Default returns the catalog shipped in the binary.
func Default() *Catalog { return defaultCatalog() }

// Set is the catalogs a node holds, by hash.
type Set struct {
	byHash map[[32]byte]*Catalog
	order  []*Catalog
}

// NewSet returns a set of the default catalog and extra ones.
func NewSet(extra ...*Catalog) *Set {
	s := &Set{byHash: make(map[[32]byte]*Catalog)}
	for _, c := range append([]*Catalog{Default()}, extra...) {
		if _, dup := s.byHash[c.Hash()]; !dup {
			s.byHash[c.Hash()] = c
			s.order = append(s.order, c)
		}
	}
	return s
}

// Get returns the catalog with hash h.
func (s *Set) Get(h [32]byte) (*Catalog, bool) {
	c, ok := s.byHash[h]
	return c, ok
}

// All returns the catalogs, the default first.
func (s *Set) All() []*Catalog { return s.order }
