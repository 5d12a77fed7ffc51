package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/phrase"
)

// Commands for standard phrases and languages: the catalog (offline, on
// files), translations, and the operator's reading language.

// langAlias accepts the short forms operators type for the catalog's
// language tags.
func langAlias(tag string) string {
	switch strings.ToLower(tag) {
	case "zh", "zh-cn", "zh-hans-cn", "cn":
		return "zh-Hans"
	}
	return tag
}

// loadCatalog reads a catalog file, or the default catalog for "" or
// "default".
func loadCatalog(path string) (*phrase.Catalog, error) {
	if path == "" || path == "default" {
		return phrase.Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "%v", err)
	}
	defer f.Close()
	c, err := phrase.Load(f)
	if err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s: %s", path, phrase.Reason(err))
	}
	return c, nil
}

func init() {
	register(&command{
		name: "catalog list", summary: "List the phrases of a catalog (default: the one built in), by level",
		usage: "[--file FILE] [--level LEVEL] [--lang TAG]", example: "  hotline catalog list --level frontline --lang zh",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("catalog list", env)
			file := fs.String("file", "", "catalog file (default: the catalog built into this binary)")
			level := fs.String("level", "", "only phrases usable at this level")
			lang := fs.String("lang", "en", "language of the titles")
			if _, err := parseArgs(fs, args, 0, 0); err != nil {
				return err
			}
			c, err := loadCatalog(*file)
			if err != nil {
				return err
			}
			if *level != "" {
				if _, err := hotline.ParseLevel(*level); err != nil {
					return err
				}
			}
			printCatalogHeader(env, c)
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tLEVELS\tACK\tTITLE")
			for _, t := range c.Templates {
				if *level != "" && !slices.Contains(t.Levels, *level) {
					continue
				}
				ack := "no"
				if t.Ack {
					ack = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Code, strings.Join(t.Levels, ","), ack, phrase.Label(t.Title, langAlias(*lang)))
			}
			return tw.Flush()
		},
	})
	register(&command{
		name: "catalog show", summary: "Show one phrase: its fields, how to write each value, and its text in every language",
		usage: "CODE [--file FILE]", example: "  hotline catalog show TH-LAUNCH-NOTICE",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("catalog show", env)
			file := fs.String("file", "", "catalog file (default: the catalog built into this binary)")
			pos, err := parseArgs(fs, args, 1, 1)
			if err != nil {
				return err
			}
			c, err := loadCatalog(*file)
			if err != nil {
				return err
			}
			t, ok := c.Template(strings.ToUpper(pos[0]))
			if !ok {
				return hotline.Errorf(hotline.ENOTFOUND, "catalog %s %s has no phrase %q (see hotline catalog list)", c.Name, c.Version, pos[0])
			}
			fmt.Fprintf(env.Stdout, "%s  %s\nlevels: %s; needs acknowledgement: %t\n", t.Code, phrase.Label(t.Title, "en"), strings.Join(t.Levels, ", "), t.Ack)
			if t.Notice != "" {
				fmt.Fprintf(env.Stdout, "notice: %s must lie at least the channel's agreed lead time (default 24h) after sending\n", t.Notice)
			}
			fmt.Fprintln(env.Stdout, "\nfields:")
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			vals := map[string]string{}
			for _, f := range t.Fields {
				need := "optional"
				if f.Required {
					need = "required"
				}
				how := f.Type.Syntax()
				if f.Type == phrase.TypeEnum {
					var codes []string
					for _, v := range f.Values {
						codes = append(codes, v.Code)
					}
					how = "one of " + strings.Join(codes, ", ")
				}
				if u := phrase.Label(f.Unit, "en"); u != "" {
					how += " (" + u + ")"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\texample: %s\n", f.Name, f.Type, need, how, f.Example)
				vals[f.Name] = f.Example
			}
			tw.Flush()
			fields, err := t.Normalize(vals, phrase.Context{})
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, "\nwith the examples:")
			for _, l := range c.Langs() {
				s, err := c.Render(&entry.Phrase{Code: t.Code, Fields: fields}, l)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "  [%s] %s\n", l, s)
			}
			var flags []string
			for _, f := range t.Fields {
				flags = append(flags, fmt.Sprintf("--field %s=%q", f.Name, f.Example))
			}
			fmt.Fprintf(env.Stdout, "\nsend it:\n  hotline send CHANNEL --phrase %s %s\n", t.Code, strings.Join(flags, " "))
			return nil
		},
	})
	register(&command{
		name: "catalog validate", summary: "Check a catalog file: every template has every language, placeholders match fields, examples are valid",
		usage: "FILE", example: "  hotline catalog validate ./catalog-2027.json",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("catalog validate", env)
			pos, err := parseArgs(fs, args, 1, 1)
			if err != nil {
				return err
			}
			c, err := loadCatalog(pos[0])
			if err != nil {
				return err
			}
			printCatalogHeader(env, c)
			fmt.Fprintf(env.Stdout, "valid: %d templates in %s\n", len(c.Templates), strings.Join(c.Langs(), ", "))
			return nil
		},
	})
	register(&command{
		name: "catalog diff", summary: "Show what changed between two catalogs (a file, or default for the built-in one)",
		usage: "OLD NEW", example: "  hotline catalog diff default ./catalog-2027.json",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("catalog diff", env)
			pos, err := parseArgs(fs, args, 2, 2)
			if err != nil {
				return err
			}
			a, err := loadCatalog(pos[0])
			if err != nil {
				return err
			}
			b, err := loadCatalog(pos[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "--- %s %s %s\n+++ %s %s %s\n", a.Name, a.Version, a.ID()[:16], b.Name, b.Version, b.ID()[:16])
			d := phrase.Diff(a, b)
			if len(d) == 0 {
				fmt.Fprintln(env.Stdout, "no differences in content")
			}
			for _, line := range d {
				fmt.Fprintln(env.Stdout, line)
			}
			return nil
		},
	})
	register(&command{
		name: "catalog export", summary: "Print the built-in catalog's JSON, to start a new version or a new language from",
		usage: "", example: "  hotline catalog export > catalog-2027.json",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("catalog export", env)
			if _, err := parseArgs(fs, args, 0, 0); err != nil {
				return err
			}
			_, err := env.Stdout.Write(phrase.DefaultJSON())
			return err
		},
	})
	register(&command{
		name: "translate", summary: "Add a signed translation of a message, stored beside the original (stage sight, rough or official)",
		usage:   "CHANNEL ENTRY_ID TEXT --lang TAG --stage STAGE [--translator NAME]",
		example: `  hotline translate alpha-bravo-strategic 5c1e0f3a "我方演习将于中午结束。" --lang zh --stage official --translator "Li Wei"`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("translate", env)
			cl := apiFlags(fs, env)
			lang := fs.String("lang", "", "language of the translation")
			stage := fs.String("stage", "", "sight (read off at once), rough (working) or official (reviewed)")
			translator := fs.String("translator", "", "who translated (default: you)")
			c, pos, err := cl.parse(args, 3, 3)
			if err != nil {
				return err
			}
			if *lang == "" || *stage == "" {
				return usagef("give --lang and --stage")
			}
			ref, err := c.Translate(ctx, pos[0], pos[1], api.TranslationRequest{Lang: langAlias(*lang), Stage: *stage, Translator: *translator, Text: pos[2]})
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "me", summary: "Show who you are on the node and the language you read phrases in; --lang sets it",
		usage: "[--lang TAG|default]", example: "  hotline me --lang zh",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("me", env)
			cl := apiFlags(fs, env)
			lang := fs.String("lang", "", "read phrases in this language from now on (default: each channel's language)")
			c, _, err := cl.parse(args, 0, 0)
			if err != nil {
				return err
			}
			me, err := c.Me(ctx)
			if *lang != "" && err == nil {
				set := langAlias(*lang)
				if set == "default" {
					set = ""
				}
				me, err = c.SetLang(ctx, set)
			}
			if err != nil {
				return err
			}
			shown := me.Lang
			if shown == "" {
				shown = "each channel's default"
			}
			fmt.Fprintf(env.Stdout, "operator %s; phrases shown in %s\n", me.Operator, shown)
			return nil
		},
	})
}

func printCatalogHeader(env *Env, c *phrase.Catalog) {
	fmt.Fprintf(env.Stdout, "catalog %s %s\nid %s\nlanguages %s\n", c.Name, c.Version, c.ID(), strings.Join(c.Langs(), ", "))
	if c.Reference {
		fmt.Fprintln(env.Stdout, "translations are reference translations: to be reviewed by qualified translators before operational use")
	}
	fmt.Fprintln(env.Stdout)
}
