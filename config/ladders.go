package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/phrase"
)

// Catalogs loads the phrase catalogs the configuration names, with the
// default catalog first.
func (d *Dir) Catalogs() (*phrase.Set, error) {
	var extra []*phrase.Catalog
	for _, path := range d.Config.Catalogs {
		f, err := os.Open(d.rel(path))
		if err != nil {
			return nil, fmt.Errorf("catalogs: %w", err)
		}
		c, err := phrase.Load(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("catalogs: %s: %w", path, err)
		}
		extra = append(extra, c)
	}
	return phrase.NewSet(extra...), nil
}

// Mailer returns the SMTP client the configuration describes, or nil when
// [smtp] addr is empty.
func (d *Dir) Mailer() (*escalation.Mailer, error) {
	c := d.Config.SMTP
	if c.Addr == "" {
		return nil, nil
	}
	if c.From == "" {
		return nil, fmt.Errorf("smtp.from is empty: give the address e-mail is sent from")
	}
	if !slices.Contains([]string{"", escalation.StartTLSAuto, escalation.StartTLSRequired, escalation.StartTLSNever}, c.StartTLS) {
		return nil, fmt.Errorf("smtp.starttls %q: use auto, required or never", c.StartTLS)
	}
	m := &escalation.Mailer{Addr: c.Addr, From: c.From, Username: c.Username, StartTLS: c.StartTLS}
	if c.PasswordFile != "" {
		pw, err := os.ReadFile(d.rel(c.PasswordFile))
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		m.Password = strings.TrimRight(string(pw), "\r\n")
	}
	return m, nil
}

// Ladders returns the escalation and reminder ladders the configuration
// describes, with webhook secrets read and every step checked.
func (d *Dir) Ladders() (escalation.Ladders, error) {
	ls := escalation.Ladders{Escalation: make(map[hotline.Level]escalation.Ladder), Reminder: make(map[hotline.Level]escalation.Ladder)}
	for _, set := range []struct {
		name string
		in   map[string][]Step
		out  map[hotline.Level]escalation.Ladder
	}{{"escalation", d.Config.Escalation, ls.Escalation}, {"reminder", d.Config.Reminder, ls.Reminder}} {
		for level, steps := range set.in {
			var l escalation.Ladder
			for i, s := range steps {
				st := escalation.Step{After: s.After.Duration, Action: s.Action, URL: s.URL, To: s.To}
				if s.SecretFile != "" {
					b, err := os.ReadFile(d.rel(s.SecretFile))
					if err != nil {
						return ls, fmt.Errorf("%s.%s step %d: secret_file: %w", set.name, level, i+1, err)
					}
					st.Secret = []byte(strings.TrimRight(string(b), "\r\n"))
				}
				l = append(l, st)
			}
			set.out[hotline.Level(level)] = l
		}
	}
	m, err := d.Mailer()
	if err != nil {
		return ls, err
	}
	if err := ls.Check(m != nil); err != nil {
		return ls, fmt.Errorf("%s: %s", FileName, hotline.ErrorMessage(err))
	}
	return ls, nil
}

// rel resolves a path relative to the node directory.
func (d *Dir) rel(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.Path, p)
}
