// Package storetest is the conformance suite of hotline.Store: what every
// backend (sqlite, and those to come) must do alike, run by each backend's
// own tests against a real store. Tests of one backend's internals (its
// migrations, its query plans, its caches) stay in that backend.
package storetest

import (
	"testing"

	"github.com/hotline-project/hotline"
)

// Backend opens the stores the suite tests.
type Backend struct {
	// Place returns a new place for a store, empty until opened.
	Place func(t testing.TB) string
	// Open opens (creating if needed) the store at place. Opened again
	// after Close, the same place gives the same store: the suite checks
	// what survives.
	Open func(t testing.TB, place string) hotline.Store
}

// Run runs the suite against b.
func Run(t *testing.T, b Backend) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Backend)
	}{
		{"AppendIsAllOrNothingAndDurable", testAppendIsAllOrNothingAndDurable},
		{"EntriesByPrefix", testEntriesByPrefix},
		{"ReadsOfFeedsAndChannels", testReadsOfFeedsAndChannels},
		{"KeyChanges", testKeyChanges},
		{"Drafts", testDrafts},
		{"AnswersWatchesAndLadders", testAnswersWatchesAndLadders},
		{"PagesWalkChannelOrder", testPagesWalkChannelOrder},
		{"PageCarriesItsIndexRows", testPageCarriesItsIndexRows},
		{"MerkleTreeFollowsFeed", testMerkleTreeFollowsFeed},
		{"Checkpoints", testCheckpoints},
		{"UsageCountsEachPartyByChannelAndDay", testUsageCountsEachPartyByChannelAndDay},
		{"EvidenceIsListedInPagesWithoutItsData", testEvidenceIsListedInPagesWithoutItsData},
		{"LinkTestsExpire", testLinkTestsExpire},
		{"OperatorAccounts", testOperatorAccounts},
		{"TokensAndOperatorsEnd", testTokensAndOperatorsEnd},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, b) })
	}
}
