package console

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/display"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/phrase"
)

var funcs = template.FuncMap{
	"items": func(d *homeData, owe bool) itemsTable {
		if owe {
			return itemsTable{D: d, Items: d.Owe, Owe: true, From: d.OweFrom, Total: d.OweTotal, Param: "owe"}
		}
		return itemsTable{D: d, Items: d.Wait, From: d.WaitFrom, Total: d.WaitTotal, Param: "wait"}
	},
	"iso": isolate,
	// b64url is what WebAuthn's browser side takes binary data as.
	"b64url": func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) },
	"join":   strings.Join,
	"inc":    func(i int) int { return i + 1 },
	"add":    func(a, b int) int { return a + b },
	"unix": func(t *time.Time) int64 {
		if t == nil {
			return 0
		}
		return t.UnixMilli()
	},
}

// base is what every page shows: who is logged in where, in which
// language, and the CSRF token its forms carry.
type base struct {
	Lang, Party, Operator, CSRF, Title, Path string
}

func (c *Console) base(r *http.Request, rq *request, title string) base {
	return base{Lang: rq.lang, Party: c.n.Self(), Operator: rq.operator, CSRF: rq.csrf, Title: title, Path: r.URL.RequestURI()}
}

// T returns the page's text for key.
func (b *base) T(key string, args ...any) string { return T(b.Lang, key, args...) }

// Say is T for a sentence that quotes text another party wrote (a
// translator's name, a reason, a readout): each string argument is
// isolated (see isolate), so it can neither reorder the sentence around
// it nor hide in it. Other arguments (numbers) are formatted as T does.
func (b *base) Say(key string, args ...any) template.HTML {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = string(isolate(v))
		case template.HTML:
			safe[i] = string(v)
		case int, int64, uint64:
			safe[i] = v
		default:
			safe[i] = template.HTMLEscapeString(fmt.Sprint(v))
		}
	}
	return template.HTML(fmt.Sprintf(template.HTMLEscapeString(T(b.Lang, key)), safe...))
}

// Dated warns that an entry's time is not to be trusted: dated ahead
// of its arrival here, or well before it ("" if neither).
func (b *base) Dated(v node.EntryView) string {
	switch {
	case v.FutureDated:
		return T(b.Lang, "msg.future")
	case v.PastDated:
		return T(b.Lang, "msg.past", formatDuration(b.Lang, v.Received.Sub(v.Time)))
	}
	return ""
}

// ShortNotice says how much notice a phrase really gave from its
// arrival here, against the channel's agreed lead time.
func (b *base) ShortNotice(sn *node.ShortNotice) string {
	lead := time.Duration(sn.LeadSeconds * float64(time.Second))
	agreed := time.Duration(sn.AgreedSeconds * float64(time.Second))
	if lead < 0 {
		return T(b.Lang, "msg.shortnotice.passed", sn.Field, formatDuration(b.Lang, agreed))
	}
	return T(b.Lang, "msg.shortnotice", sn.Field, formatDuration(b.Lang, lead.Round(time.Minute)), formatDuration(b.Lang, agreed))
}

// isolate shows text written by another party: HTML-escaped, control
// and bidirectional formatting characters shown as escapes (package
// display), inside a <bdi> element so that right-to-left text stays
// within its own bounds.
func isolate(s string) template.HTML {
	return template.HTML("<bdi>" + template.HTMLEscapeString(display.Text(s)) + "</bdi>")
}

// Time writes a time in the page's language.
func (b *base) Time(t time.Time) string { return formatTime(b.Lang, t) }

// Age says how long something has waited, from seconds.
func (b *base) Age(seconds float64) string {
	return formatDuration(b.Lang, time.Duration(seconds*float64(time.Second)).Round(time.Minute))
}

// RTT writes a round-trip time to a tenth of a millisecond.
func (b *base) RTT(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }

// Duration writes a duration in the page's language.
func (b *base) Duration(d time.Duration) string { return formatDuration(b.Lang, d) }

// AckChoices are the acknowledgement deadlines compose offers besides
// the channel's.
func (b *base) AckChoices() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}
}

// Languages lists the languages the console is written in.
func (b *base) Languages() []string { return Languages }

// LangName names a language in itself.
func (b *base) LangName(tag string) string {
	if n, ok := langNames[tag]; ok {
		return n
	}
	return tag
}

// Role names a directory role in the page's language.
func (b *base) Role(r string) string { return roleName(b.Lang, r) }

// Level names a level in the page's language.
func (b *base) Level(l string) string { return T(b.Lang, "level."+l) }

// Due says how long is left before a deadline, or how far past it.
func (b *base) Due(deadline *time.Time, now time.Time) string {
	if deadline == nil {
		return T(b.Lang, "due.none")
	}
	if left := deadline.Sub(now); left >= 0 {
		return T(b.Lang, "due.in", formatDuration(b.Lang, left))
	}
	return T(b.Lang, "due.overdue", formatDuration(b.Lang, now.Sub(*deadline)))
}

// Starts says how long until an accepted call starts, or since it did.
func (b *base) Starts(at *time.Time, now time.Time) string {
	if at == nil {
		return ""
	}
	if left := at.Sub(now); left >= 0 {
		return T(b.Lang, "call.starts", formatDuration(b.Lang, left))
	}
	return T(b.Lang, "call.started", formatDuration(b.Lang, now.Sub(*at)))
}

// AnswerDue says how long is left to answer a call request, or how far
// past its deadline it is.
func (b *base) AnswerDue(deadline *time.Time, now time.Time) string {
	if deadline != nil && !deadline.Before(now) {
		return T(b.Lang, "due.answer", formatDuration(b.Lang, deadline.Sub(now)))
	}
	return b.Due(deadline, now)
}

// Countdown holds the strings the page's script needs to count down in
// the page's language.
func (b *base) Countdown() map[string]string {
	units := "h,m,s"
	if b.Lang == "zh-Hans" {
		units = "小时,分,秒"
	}
	return map[string]string{"in": T(b.Lang, "due.in", "{d}"), "over": T(b.Lang, "due.overdue", "{d}"), "units": units, "offline": T(b.Lang, "events.offline")}
}

type homeData struct {
	base
	Now time.Time
	// Owe is what this party owes an answer to; Wait what it waits for
	// others to answer. Each is by level, strategic first, then by
	// deadline.
	Owe, Wait []itemRow
	// OweTotal and WaitTotal count all of them; the tables show
	// WatchRows from OweFrom and WaitFrom.
	OweTotal, WaitTotal int
	OweFrom, WaitFrom   int
	Overdue             int // items this party owes that are overdue
	Levels              []levelGroup
	Links               []node.LinkStatus
	// Down are the peer links that are down or silent, Equivocations
	// the equivocation records this node holds, and Flash the FLASH
	// messages this party owes an answer to: the banner's alarms.
	Down          []string
	Equivocations int64
	Flash         int
	// SignerDown says why the party key's signer (an ssh-agent) failed
	// its last signature; "" while it answers.
	SignerDown string
	// Invitations counts the channels other parties proposed that wait
	// for this party's answer: a number here, listed on their own page,
	// so that a flood of proposals never buries the watch.
	Invitations int
	// Drafts are the messages awaiting release, oldest first; DraftsMore
	// is set when there are more than the page shows.
	Drafts     []node.DraftView
	DraftsMore bool
	// Passkeys are the operator's passkeys, for the page's script to ask
	// for an assertion by one of them.
	Passkeys []passkeyRef
}

// passkeyRef names one of the operator's passkeys to the page's script.
type passkeyRef struct {
	ID   []byte `json:"id"`
	RPID string `json:"rp_id"`
}

// PasskeysJSON is the operator's passkeys, as JSON for the script.
func (d *homeData) PasskeysJSON() string {
	b, _ := json.Marshal(d.Passkeys)
	return string(b)
}

// Released reports whether the page's operator released draft d.
func (d *homeData) Released(v node.DraftView) bool { return slices.Contains(v.Releasers, d.Operator) }

// itemsTable is one of the watch page's tables: what we owe, or what we
// wait for.
type itemsTable struct {
	D     *homeData
	Items []itemRow
	Owe   bool
	// From and Total: the table shows Items from From of Total; Param
	// is the query parameter that pages it.
	From, Total int
	Param       string
}

// Next is the offset of the page after this one (0: none).
func (t itemsTable) Next() int {
	if n := t.From + len(t.Items); n < t.Total {
		return n
	}
	return 0
}

// Prev is the offset of the page before this one (-1: none).
func (t itemsTable) Prev() int {
	if t.From == 0 {
		return -1
	}
	return max(0, t.From-WatchRows)
}

type itemRow struct {
	node.Item
	Owed    bool   // this party owes the answer
	Waiting string // the parties that owe it
	Shown   string // the text in the reader's language
}

type levelGroup struct {
	Level    string
	Channels []channelRow
}

type channelRow struct {
	ID, Name string
	State    hotline.ChannelState
	Unread   int
	Deadline *time.Time
	Overdue  int
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	d := &homeData{base: c.base(r, rq, T(rq.lang, "home")), Now: c.now(), Links: c.n.Links()}
	// Each table shows WatchRows items, strategic first, from ?owe=N and
	// ?wait=N: the page stays small however much waits.
	owe, err := c.pendingTable(r, rq, "received", "owe", &d.OweFrom, &d.Owe)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	wait, err := c.pendingTable(r, rq, "sent", "wait", &d.WaitFrom, &d.Wait)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.OweTotal, d.WaitTotal, d.Overdue, d.Flash = owe.Total, wait.Total, owe.Overdue, owe.Flash
	for _, l := range d.Links {
		if !l.Up || l.Silent {
			d.Down = append(d.Down, l.Party)
		}
	}
	if counts, err := c.store.EvidenceCounts(ctx); err == nil {
		d.Equivocations = counts["equivocation"]
	}
	if up, why := c.n.SignerStatus(); !up {
		d.SignerDown = why
	}
	drafts, err := c.n.Drafts(ctx, hotline.DraftAwaiting, WatchRows+1)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if len(drafts) > WatchRows {
		drafts, d.DraftsMore = drafts[:WatchRows], true
	}
	d.Drafts = drafts
	if op, err := c.store.Operator(ctx, rq.operator); err == nil {
		for _, k := range op.Keys {
			if k.Key.Type == entry.KeyWebAuthn && k.Removed.IsZero() {
				d.Passkeys = append(d.Passkeys, passkeyRef{ID: k.Key.ID, RPID: k.Key.RPID})
			}
		}
	}
	// The tab title says what is owed, so a background tab still tells.
	if d.OweTotal > 0 {
		d.Title = T(rq.lang, "home.title.owed", d.OweTotal, d.Overdue) + " " + d.Title
	}
	for _, ch := range c.n.Channels() {
		switch ch.State {
		case hotline.ChannelInvited:
			d.Invitations++
			continue
		case hotline.ChannelDeclined, hotline.ChannelExpired:
			continue
		}
		id := ch.ID.String()
		row := channelRow{ID: id, Name: ch.Label, State: ch.State, Deadline: owe.Channels[id].Soonest, Overdue: owe.Channels[id].Overdue}
		if ch.State == hotline.ChannelActive {
			if row.Unread, err = c.n.Unread(ctx, id); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		if n := len(d.Levels); n == 0 || d.Levels[n-1].Level != ch.Definition.Level {
			d.Levels = append(d.Levels, levelGroup{Level: ch.Definition.Level})
		}
		g := &d.Levels[len(d.Levels)-1]
		g.Channels = append(g.Channels, row)
	}
	c.render(w, http.StatusOK, "home", d)
}

// WatchRows is how many items each of the watch page's tables shows.
const WatchRows = 50

// pendingTable reads one of the watch page's tables: WatchRows of what
// waits in role, strategic first, from the offset the query parameter
// param gives (the first page if it is not a number in range).
func (c *Console) pendingTable(r *http.Request, rq *request, role, param string, from *int, rows *[]itemRow) (*node.PendingList, error) {
	i, err := strconv.Atoi(r.URL.Query().Get(param))
	if err != nil || i < 0 {
		i = 0
	}
	q := node.PendingQuery{Role: role, ByLevel: true, Offset: i, Limit: WatchRows}
	l, err := c.n.PendingList(r.Context(), q)
	if err == nil && i > 0 && i >= l.Total {
		q.Offset, i = 0, 0
		l, err = c.n.PendingList(r.Context(), q)
	}
	if err != nil {
		return nil, err
	}
	*from = i
	for k := range l.Items {
		it := &l.Items[k]
		*rows = append(*rows, itemRow{Item: *it, Owed: it.Role == "received", Waiting: strings.Join(it.Pending, ", "), Shown: c.n.TextIn(it, rq.lang)})
	}
	return l, nil
}

// seenHere reports whether someone at this party read or acknowledged v.
func (c *Console) seenHere(v *node.EntryView) bool {
	if v.MessageState == nil {
		return false
	}
	for _, m := range append(slices.Clone(v.ReadBy), v.AckedBy...) {
		if m.Party == c.n.Self() {
			return true
		}
	}
	return false
}

// PageEntries is how many entries of a channel's log a channel page
// shows, newest last unless asked for earlier ones; receipts, reads and
// acks among them fold into the messages they answer. A page, and each
// live update of it, costs what it shows, whatever the channel holds.
const PageEntries = 100

// timeline reads the page of the channel's log the request asks for:
// before=CURSOR, after=CURSOR, from=CURSOR (that entry and the ones
// after it, up to to=CURSOR if given), entry=ID (the page from that
// entry), stored_after=N (what the node stored since, for live updates),
// or the newest; limit=N entries (default PageEntries).
func (c *Console) timeline(r *http.Request, ref, lang string) (*hotline.Channel, *node.LogPage, error) {
	q := hotline.PageQuery{Limit: PageEntries}
	v := r.URL.Query()
	if n, err := strconv.Atoi(v.Get("limit")); err == nil && n > 0 {
		q.Limit = min(n, node.MaxPageLimit)
	}
	cursor := func(s string) (*hotline.Position, error) {
		p, err := hotline.ParsePosition(s)
		return &p, err
	}
	var err error
	switch {
	case v.Get("stored_after") != "":
		n, perr := strconv.ParseInt(v.Get("stored_after"), 10, 64)
		if perr != nil || n < 0 {
			return nil, nil, hotline.Errorf(hotline.EINVALID, "stored_after %q is not a point of the node's storage order", v.Get("stored_after"))
		}
		q.StoredAfter = &n
	case v.Get("before") != "":
		q.Before, err = cursor(v.Get("before"))
	case v.Get("after") != "":
		q.After, err = cursor(v.Get("after"))
	case v.Get("from") != "" || v.Get("entry") != "":
		from := v.Get("from")
		if from == "" {
			if from, err = c.n.Cursor(r.Context(), ref, v.Get("entry")); err != nil {
				return nil, nil, err
			}
		}
		var p *hotline.Position
		if p, err = cursor(from); err == nil && p.Seq > 0 {
			before := p.JustBefore()
			q.After = &before
		}
	}
	if err != nil {
		return nil, nil, err
	}
	ch, page, err := c.n.Log(r.Context(), ref, lang, q)
	if err != nil || v.Get("to") == "" {
		return ch, page, err
	}
	// to=CURSOR ends the page at that entry: a live update asks for
	// the rows it shows again, and no more.
	to, err := hotline.ParsePosition(v.Get("to"))
	if err != nil {
		return nil, nil, err
	}
	for i, e := range page.Entries {
		if p, _ := hotline.ParsePosition(e.Cursor); to.Less(p) {
			page.Entries, page.Later, page.Next = page.Entries[:i], true, to.String()
			break
		}
	}
	return ch, page, nil
}

type channelData struct {
	base
	Now      time.Time
	ID, Name string
	ChLevel  string
	State    hotline.ChannelState
	Members  string
	Entries  []entryRow
	// Earlier and Later: the channel has entries before the first and
	// after the last shown; Prev and Next are the cursors for them.
	Earlier, Later bool
	Prev, Next     string
	// Stored is the newest point of the node's storage order when the
	// page was read, and LastStored the point a live update goes on
	// from: Stored, or, when it read only part of what was new, the last
	// entry it read.
	Stored, LastStored int64
	// Unread counts the messages nobody here has read; FirstUnread is
	// the cursor of the first of them.
	Unread      int
	FirstUnread string
	// Translate is the message whose translation form is open.
	Translate string
	// ErrorField is the id of the compose field Error is about.
	ErrorField string
	Calls      []callRow
	CallError  string    // why a call request or an answer was refused
	CallForm   *callForm // nil: nobody has published counterparts to call
	// Translating is a refused translation, shown again on its message.
	Translating *translating
	Strategic   bool
	Sent        bool
	compose

	ch  *hotline.Channel
	cat *phrase.Catalog // nil: the channel carries free text only
}

// compose is the compose section: free text, or a phrase chosen from the
// channel's catalog, with what the operator typed and what was wrong.
type compose struct {
	Mode      string // "text" or "phrase"
	Text      string
	TextLang  string
	Catalog   bool // the channel has an agreed catalog
	Reference bool // its translations are reference translations
	Phrases   []phraseChoice
	Phrase    *phraseForm
	Error     string
}

type phraseChoice struct{ Code, Title string }

type phraseForm struct {
	Code, Title string
	Fields      []fieldRow
}

type fieldRow struct {
	Name, Label, Type, Syntax, Example, Unit string
	Required                                 bool
	Values                                   []choice
	Value, Error                             string
}

type choice struct{ Code, Text string }

// entryRow is one line of the timeline.
type entryRow struct {
	node.EntryView
	Mine, Message, NeedsAck, CanAck, Unread bool
	AckedBy, ReadBy, DeliveredTo, Pending   string
	Event                                   string // not a message: its line in the page's language
}

func (c *Console) channel(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := c.channelPage(r, rq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Sent = r.URL.Query().Get("sent") != ""
	if code := r.URL.Query().Get("phrase"); code != "" && d.Catalog {
		d.Mode = "phrase"
		d.Phrase = newPhraseForm(d, code, nil, nil)
	}
	if f := c.flashes.get(rq.operator, r.URL.Query().Get("form"), c.now()); f != nil && f.apply != nil {
		f.apply(d)
	}
	c.render(w, http.StatusOK, "channel", d)
}

// channelPage gathers the channel view for the request's operator: one
// page of its log, its calls, and the compose forms.
func (c *Console) channelPage(r *http.Request, rq *request) (*channelData, error) {
	d, err := c.timelinePage(r, rq)
	if err != nil {
		return nil, err
	}
	ch := d.ch
	calls, err := c.n.Calls(r.Context(), ch.ID.String())
	if err != nil {
		return nil, err
	}
	d.Calls = c.callRows(ch, calls)
	if ch.State == hotline.ChannelActive {
		if d.CallForm, err = c.newCallForm(r, ch); err != nil {
			return nil, err
		}
	}
	purposes := make(map[string]string, len(d.Calls))
	for _, call := range d.Calls {
		purposes[call.Entry] = call.Purpose
	}
	for i := range d.Entries {
		if e := &d.Entries[i]; !e.Message {
			e.Event = eventText(rq.lang, &e.EntryView, purposes)
		}
	}
	d.compose = compose{Mode: "text", TextLang: rq.lang}
	if cat, err := c.n.Catalog(ch); err == nil {
		d.cat, d.Catalog, d.Reference = cat, true, cat.Reference
		for _, t := range cat.ForLevel(ch.Definition.Level) {
			d.Phrases = append(d.Phrases, phraseChoice{Code: t.Code, Title: phraseTitle(t.Title, rq.lang)})
		}
	}
	return d, nil
}

// timelinePage gathers the channel's header and the page of its
// timeline the request asks for: all that a live update needs.
func (c *Console) timelinePage(r *http.Request, rq *request) (*channelData, error) {
	ch, page, err := c.timeline(r, r.PathValue("channel"), rq.lang)
	if err != nil {
		return nil, err
	}
	d := &channelData{base: c.base(r, rq, ch.Label), Now: c.now(), ch: ch, ID: ch.ID.String(), Name: ch.Label,
		ChLevel: ch.Definition.Level, State: ch.State, Strategic: ch.Definition.Level == string(hotline.Strategic),
		Earlier: page.Earlier, Later: page.Later, Prev: page.Prev, Next: page.Next, Stored: page.Stored, LastStored: page.Stored,
		Translate: r.URL.Query().Get("translate")}
	if n := len(page.Entries); n > 0 && page.Later {
		d.LastStored = page.Entries[n-1].Stored
	}
	var members []string
	for _, m := range ch.Definition.Members {
		members = append(members, m.Party)
	}
	d.Members = strings.Join(members, ", ")
	if d.Unread, err = c.n.Unread(r.Context(), d.ID); err != nil {
		return nil, err
	}
	if d.Unread > 0 {
		if d.FirstUnread, err = c.n.FirstUnread(r.Context(), d.ID); err != nil {
			return nil, err
		}
	}
	for _, v := range page.Entries {
		switch v.Kind {
		case entry.KindReceipt, entry.KindRead, entry.KindAck, entry.KindTranslation:
			continue // folded into the messages they answer or translate
		}
		row := entryRow{EntryView: v, Mine: v.Author == c.n.Self(), Message: v.Kind == entry.KindMessage}
		if !row.Message {
			row.Event = v.Text
		}
		if row.Message && v.MessageState != nil {
			row.NeedsAck = v.AckWithinSeconds != nil
			row.Unread = !row.Mine && !c.seenHere(&v)
			row.CanAck = !row.Mine && row.NeedsAck && !ackedBy(&v, c.n.Self())
			row.AckedBy = marks(rq.lang, v.AckedBy)
			row.ReadBy = marks(rq.lang, v.ReadBy)
			row.Pending = strings.Join(v.Pending, ", ")
			var to []string
			for p := range v.DeliveredTo {
				to = append(to, p)
			}
			slices.Sort(to)
			row.DeliveredTo = strings.Join(to, ", ")
		}
		d.Entries = append(d.Entries, row)
	}
	return d, nil
}

// rows serves one page of a channel's timeline as an HTML fragment, for
// the page's live updates: the rows after its newest, or its rows again
// once their state changed.
func (c *Console) rows(w http.ResponseWriter, r *http.Request, rq *request) {
	d, err := c.timelinePage(r, rq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.renderFragment(w, "rows", d)
}

func ackedBy(v *node.EntryView, party string) bool {
	return slices.ContainsFunc(v.AckedBy, func(m node.MarkView) bool { return m.Party == party })
}

// marks lists who read or acknowledged a message, when (UTC) and with
// what reply, punctuated as lang writes.
func marks(lang string, ms []node.MarkView) string {
	var out []string
	for _, m := range ms {
		s := m.Party
		if m.Operator != "" {
			s = aside(lang, s, m.Operator)
		}
		s += " " + m.Time.UTC().Format("15:04") + "Z"
		if m.Reply != "" {
			s += T(lang, "label.sep") + "“" + m.Reply + "”"
		}
		out = append(out, s)
	}
	return listOf(lang, out)
}

// newPhraseForm builds the form of phrase code, with values typed and
// errors by field.
func newPhraseForm(d *channelData, code string, values, errs map[string]string) *phraseForm {
	if d.cat == nil {
		return nil
	}
	t, ok := d.cat.Template(code)
	if !ok || !slices.Contains(t.Levels, d.ch.Definition.Level) {
		return nil
	}
	f := &phraseForm{Code: t.Code, Title: phraseTitle(t.Title, d.Lang)}
	for _, fd := range t.Fields {
		row := fieldRow{Name: fd.Name, Label: phraseTitle(fd.Label, d.Lang), Type: string(fd.Type), Syntax: fd.Type.Syntax(),
			Example: fd.Example, Unit: phraseTitle(fd.Unit, d.Lang), Required: fd.Required, Value: values[fd.Name], Error: errs[fd.Name]}
		// Hints in words, in the operator's language: a choice names no
		// code, the syntax of a value is translated.
		if key := "syntax." + string(fd.Type); T(d.Lang, key) != key {
			row.Syntax = T(d.Lang, key)
		}
		for _, v := range fd.Values {
			row.Values = append(row.Values, choice{Code: v.Code, Text: phraseTitle(v.Text, d.Lang)})
		}
		if len(row.Values) > 0 {
			row.Syntax, row.Example = T(d.Lang, "hint.choose"), ""
		}
		f.Fields = append(f.Fields, row)
	}
	return f
}

// phraseTitle picks a catalog text in the console's language.
func phraseTitle(m map[string]string, lang string) string {
	if s, ok := m[lang]; ok {
		return s
	}
	return m["en"]
}

// confirmData asks to confirm a message before it is sent: a strategic
// message, or a standard phrase.
type confirmData struct {
	base
	ID, Name  string
	Strategic bool
	Previews  []preview
	Hidden    []hidden
}

type hidden struct{ Name, Value string }

func (c *Console) send(w http.ResponseWriter, r *http.Request, rq *request) {
	ch, err := c.n.ResolveChannel(r.PathValue("channel"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	id := ch.ID.String()
	in := node.MessageInput{}
	values := make(map[string]string)
	code := r.PostFormValue("phrase")
	if code != "" {
		in.Phrase = &node.PhraseInput{Code: code, Fields: values}
		for k, v := range r.PostForm {
			if name, ok := strings.CutPrefix(k, "f."); ok && len(v) > 0 && strings.TrimSpace(v[0]) != "" {
				values[name] = v[0]
			}
		}
	} else {
		in.Text, in.Lang, in.Precedence = r.PostFormValue("text"), r.PostFormValue("lang"), r.PostFormValue("precedence")
		if a := r.PostFormValue("ack_within"); a != "" {
			ack, err := time.ParseDuration(a)
			if err != nil {
				c.sendFailed(w, r, rq, id, in, code, values, &hotline.Error{Code: hotline.EINVALID, Message: "acknowledgement deadline " + a + " is not a duration", Field: "ack_within"})
				return
			}
			in.AckWithin = &ack
		}
	}
	// A strategic message, and any standard phrase, is shown once more
	// before it is signed: a phrase in each of the catalog's languages.
	if (ch.Level() == hotline.Strategic || in.Phrase != nil) && r.PostFormValue("confirm") != "yes" {
		previews, err := c.previews(ch, in, rq.lang)
		if err != nil {
			c.sendFailed(w, r, rq, id, in, code, values, err)
			return
		}
		cd := &confirmData{ID: id, Name: ch.Label, Strategic: ch.Level() == hotline.Strategic, Previews: previews}
		for k, v := range r.PostForm {
			if k != "csrf" && len(v) > 0 {
				cd.Hidden = append(cd.Hidden, hidden{k, v[0]})
			}
		}
		slices.SortFunc(cd.Hidden, func(a, b hidden) int { return cmp.Compare(a.Name, b.Name) })
		tok := c.flashes.put(&flash{operator: rq.operator, confirm: cd}, c.now())
		http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(id)+"/confirm?form="+tok, http.StatusSeeOther)
		return
	}
	sent, err := c.n.Send(r.Context(), rq.operator, id, in)
	if err != nil {
		c.sendFailed(w, r, rq, id, in, code, values, err)
		return
	}
	if sent.Draft != nil {
		http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(id)+"?held="+url.QueryEscape(sent.Draft.ID)+"#compose", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(id)+"?sent=1#timeline", http.StatusSeeOther)
}

// confirm shows a message waiting for confirmation (see send).
func (c *Console) confirm(w http.ResponseWriter, r *http.Request, rq *request) {
	f := c.flashes.get(rq.operator, r.URL.Query().Get("form"), c.now())
	if f == nil || f.confirm == nil {
		http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(r.PathValue("channel"))+"#compose", http.StatusSeeOther)
		return
	}
	cd := *f.confirm
	cd.base = c.base(r, rq, T(rq.lang, "confirm.title"))
	c.render(w, http.StatusOK, "confirm", &cd)
}

// sendFailed keeps what was typed and why it was refused, and shows the
// channel again with the error next to its field and in the summary at
// the top (post-redirect-get: see flash).
func (c *Console) sendFailed(w http.ResponseWriter, r *http.Request, rq *request, id string, in node.MessageInput, code string, values map[string]string, err error) {
	if hotline.ErrorCode(err) == hotline.EINTERNAL {
		c.fail(w, r, err)
		return
	}
	field := hotline.ErrorField(err)
	msg := hotline.ErrorMessage(err)
	apply := func(d *channelData) {
		if code != "" {
			errs := map[string]string{}
			if field != "" && field != "phrase" && field != "lang" {
				errs[field] = strings.TrimPrefix(msg, "field "+field+": ")
			}
			d.Mode = "phrase"
			d.Phrase = newPhraseForm(d, code, values, errs)
			if len(errs) == 0 || d.Phrase == nil {
				d.Error = msg
			}
			return
		}
		d.Text, d.TextLang, d.Error = in.Text, in.Lang, msg
		d.ErrorField = map[string]string{"ack_within": "ack-within", "lang": "text-lang"}[field]
		if d.ErrorField == "" {
			d.ErrorField = "text"
		}
	}
	tok := c.flashes.put(&flash{operator: rq.operator, apply: apply}, c.now())
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(id)+"?form="+tok+"#errors", http.StatusSeeOther)
}

// problem is one entry of a page's error summary: what is wrong, and a
// link to the field.
type problem struct{ Href, Text string }

// Problems lists what the operator must fix on the page, for the summary
// at its top that the page's focus moves to.
func (d *channelData) Problems() []problem {
	var out []problem
	if d.Phrase != nil {
		for _, f := range d.Phrase.Fields {
			if f.Error != "" {
				out = append(out, problem{"#f-" + f.Name, f.Label + ": " + f.Error})
			}
		}
	}
	if d.Error != "" {
		href := "#compose-error"
		if d.ErrorField != "" {
			href = "#" + d.ErrorField
		}
		out = append(out, problem{href, d.Error})
	}
	if d.CallError != "" {
		out = append(out, problem{"#call-error", d.CallError})
	}
	if d.Translating != nil && d.Translating.Error != "" {
		out = append(out, problem{"#tr-text-" + d.Translating.Entry, d.Translating.Error})
	}
	return out
}

// previews renders what would be sent, without signing anything: a
// phrase, validated as the node would, in each language of the channel's
// catalog (the reader's first); free text as typed.
func (c *Console) previews(ch *hotline.Channel, in node.MessageInput, lang string) ([]preview, error) {
	if in.Phrase == nil {
		if strings.TrimSpace(in.Text) == "" {
			return nil, &hotline.Error{Code: hotline.EINVALID, Message: "the message is empty", Field: "text"}
		}
		return []preview{{Lang: in.Lang, Text: in.Text}}, nil
	}
	langs := []string{lang}
	if cat, err := c.n.Catalog(ch); err == nil {
		for l := range cat.Languages {
			if l != lang {
				langs = append(langs, l)
			}
		}
		slices.Sort(langs[1:])
	}
	var out []preview
	for _, l := range langs {
		text, err := c.n.PreviewPhrase(ch, in.Phrase, l)
		if err != nil {
			return nil, err
		}
		out = append(out, preview{Lang: l, Text: text})
	}
	return out, nil
}

// preview is a message as it would be signed, in one language.
type preview struct{ Lang, Text string }

// invitationsData is the invitations page.
type invitationsData struct {
	base
	Invitations []invitationRow
}

type invitationRow struct {
	ID, Name, ProposedName, Proposer, Level string
	Members                                 string
	Received                                time.Time
}

// maxInvitationRows bounds the invitations page; the node bounds the
// invitations each party may have open, so this is never reached unless
// many parties are pinned.
const maxInvitationRows = 500

func (c *Console) invitations(w http.ResponseWriter, r *http.Request, rq *request) {
	d := &invitationsData{base: c.base(r, rq, T(rq.lang, "inv.title"))}
	for _, ch := range c.n.Invitations() {
		if len(d.Invitations) == maxInvitationRows {
			break
		}
		var ms []string
		for _, m := range ch.Definition.Members {
			ms = append(ms, m.Party)
		}
		d.Invitations = append(d.Invitations, invitationRow{ID: ch.ID.String(), Name: ch.Label, ProposedName: ch.Definition.Name,
			Proposer: ch.Definition.Proposer, Level: ch.Definition.Level, Members: strings.Join(ms, ", "), Received: ch.Stored})
	}
	c.render(w, http.StatusOK, "invitations", d)
}

func (c *Console) decline(w http.ResponseWriter, r *http.Request, rq *request) {
	if _, err := c.n.Decline(r.Context(), rq.operator, r.PathValue("channel")); err != nil && hotline.ErrorCode(err) != hotline.ECONFLICT {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"invitations", http.StatusSeeOther)
}

func (c *Console) accept(w http.ResponseWriter, r *http.Request, rq *request) {
	if _, err := c.n.Accept(r.Context(), rq.operator, r.PathValue("channel")); err != nil && hotline.ErrorCode(err) != hotline.ECONFLICT {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(r.PathValue("channel")), http.StatusSeeOther)
}

// refused shows the channel page again for a request the node refused,
// with the refusal put where the operator will see it by show; an
// internal error is a failure page instead.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, rq *request, err error, query, fragment string, show func(d *channelData, msg string)) {
	if hotline.ErrorCode(err) == hotline.EINTERNAL {
		c.fail(w, r, err)
		return
	}
	msg := hotline.ErrorMessage(err)
	tok := c.flashes.put(&flash{operator: rq.operator, apply: func(d *channelData) { show(d, msg) }}, c.now())
	if query != "" {
		query += "&"
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(r.PathValue("channel"))+"?"+query+"form="+tok+"#"+fragment, http.StatusSeeOther)
}

// entryURL is a channel page showing one entry, however old.
func entryURL(ch, id string) string {
	return Prefix + "channels/" + url.PathEscape(ch) + "?entry=" + url.QueryEscape(id) + "#e-" + url.PathEscape(id)
}

func (c *Console) ack(w http.ResponseWriter, r *http.Request, rq *request) {
	_, err := c.n.Mark(r.Context(), rq.operator, r.PathValue("channel"), r.PathValue("entry"), entry.KindAck, r.PostFormValue("reply"))
	if err != nil && hotline.ErrorCode(err) != hotline.EINVALID {
		c.fail(w, r, err)
		return
	}
	if err != nil {
		http.Error(w, hotline.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, entryURL(r.PathValue("channel"), r.PathValue("entry")), http.StatusSeeOther)
}
