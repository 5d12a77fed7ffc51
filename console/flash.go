package console

import (
	"sync"
	"time"
)

// Forms are post-redirect-get: a form post that is refused, or that needs
// a confirmation, keeps what the operator typed and why it was refused
// in a flash, and redirects to a page that shows it (?form=TOKEN). A
// reload of that page never posts the form again, and the page is the
// channel's own, so its live updates go on.

// flashTTL is how long a flash waits to be shown; maxFlashes bounds how
// many the console holds (the oldest give way).
const (
	flashTTL   = 10 * time.Minute
	maxFlashes = 10000
)

// flash is what a refused or pending form leaves for the page after the
// redirect: a change to that page's data, for the operator who posted it.
type flash struct {
	operator string
	apply    func(d *channelData)
	confirm  *confirmData // a message to confirm before it is signed
	expires  time.Time
}

// flashes holds flashes by their random token.
type flashes struct {
	mu    sync.Mutex
	m     map[string]*flash
	order []string // tokens, oldest first
}

// put keeps f and returns its token.
func (fs *flashes) put(f *flash, now time.Time) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m == nil {
		fs.m = make(map[string]*flash)
	}
	for len(fs.order) > 0 && (len(fs.order) >= maxFlashes || fs.m[fs.order[0]] == nil || now.After(fs.m[fs.order[0]].expires)) {
		delete(fs.m, fs.order[0])
		fs.order = fs.order[1:]
	}
	tok := randomToken()
	f.expires = now.Add(flashTTL)
	fs.m[tok] = f
	fs.order = append(fs.order, tok)
	return tok
}

// get returns the flash with token tok if operator posted it and it has
// not expired. It stays until it expires, so that a reload shows the
// same page again.
func (fs *flashes) get(operator, tok string, now time.Time) *flash {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.m[tok]
	if f == nil || f.operator != operator || now.After(f.expires) {
		return nil
	}
	return f
}
