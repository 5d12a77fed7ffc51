// Command hotline is the hotline node and its command-line client. Run
// `hotline help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/hotline-project/hotline"
)

func main() { os.Exit(runProcess()) }

// runProcess runs the process's command line until it is done or SIGINT or
// SIGTERM asks it to stop, and returns the exit code.
func runProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// Env is what a command runs with: its streams and environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // arguments after the name
	example string
	run     func(ctx context.Context, env *Env, args []string) error
}

// synopsis is the command's usage line.
func (c *command) synopsis() string { return strings.TrimSpace("hotline " + c.name + " " + c.usage) }

var commands []*command

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Exit codes, one per error code: the one place they are assigned.
var exitCodes = map[string]int{
	hotline.EINTERNAL:     1,
	hotline.EINVALID:      2,
	hotline.ENOTFOUND:     3,
	hotline.EUNAUTHORIZED: 4,
	hotline.ECONFLICT:     5,
	hotline.EUNAVAILABLE:  6,
	hotline.EBUSY:         6, // too many requests: like unavailable, try again later
}

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

// run runs the command line args in env and returns the exit code.
func run(ctx context.Context, env *Env, args []string) int {
	stderr := env.Stderr
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	// Subcommands nest: "operator key add" is the group "operator", its
	// group "key", and "add".
	for len(rest) > 0 {
		sub := lookup(name + " " + first(rest))
		if sub == nil && len(subcommands(name+" "+first(rest))) == 0 {
			break
		}
		name, rest = name+" "+first(rest), rest[1:]
	}
	c := lookup(name)
	if c == nil {
		if group := subcommands(name); len(group) > 0 {
			fmt.Fprintf(stderr, "hotline %s: give a subcommand: %s\n", name, strings.Join(group, ", "))
		} else {
			fmt.Fprintf(stderr, "hotline: unknown command %q%s\nRun 'hotline help' for the list.\n", name, suggest(name))
		}
		return 2
	}
	err := c.run(ctx, env, rest)
	if err == nil {
		return 0
	}
	var help helpRequest
	if errors.As(err, &help) {
		printCommandHelp(env.Stdout, c, help.fs)
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "hotline %s: %s\nUsage: %s\nRun 'hotline help %s' for details.\n", c.name, ue.msg, c.synopsis(), c.name)
		return 2
	}
	code := hotline.ErrorCode(err)
	msg := hotline.ErrorMessage(err)
	if code == hotline.EINTERNAL {
		msg = err.Error()
	}
	fmt.Fprintf(stderr, "hotline %s: %s\n", c.name, msg)
	return exitCodes[code]
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// subcommands lists "group x" commands of a group name.
func subcommands(group string) []string {
	var out []string
	for _, c := range commands {
		if rest, ok := strings.CutPrefix(c.name, group+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// suggest proposes a command with a close name.
func suggest(name string) string {
	best, dist := "", 3
	for _, c := range commands {
		if d := editDistance(name, c.name); d < dist {
			best, dist = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// usageError is a mistake in how a command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlags returns a flag set for command c whose -h prints c's help.
func newFlags(c string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	// Errors are reported once, by run; help goes to stdout, also by run.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// helpRequest is returned by parseArgs for -h or --help: run prints the
// command's help, with its flags, to stdout.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// parseArgs parses flags anywhere among the arguments (before, between or
// after positional ones; "--" ends flags) and checks the number of
// positional arguments is between lo and hi (hi < 0: no limit).
func parseArgs(fs *flag.FlagSet, args []string, lo, hi int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpRequest{fs}
			}
			return nil, usageError{err.Error()}
		}
		consumed := len(args) - fs.NArg()
		rest := fs.Args()
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < lo || (hi >= 0 && len(pos) > hi) {
		switch {
		case lo == hi && lo == 0:
			return nil, usagef("takes no arguments, got %q", strings.Join(pos, " "))
		case len(pos) < lo:
			return nil, usagef("missing arguments")
		default:
			return nil, usagef("too many arguments: %q", strings.Join(pos[hi:], " "))
		}
	}
	return pos, nil
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `hotline: a crisis-communication link between sovereign parties.

Usage: hotline COMMAND [arguments] [flags]

Commands:
`)
	sorted := append([]*command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Client commands take --api URL --token TOKEN (or HOTLINE_API, HOTLINE_TOKEN).
Node commands take --dir DIR (or HOTLINE_DIR).
Run 'hotline help COMMAND' for a command's flags and an example.
`)
}

func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", c.synopsis(), c.summary)
	if fs != nil {
		var has bool
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.VisitAll(func(f *flag.Flag) {
				def := ""
				if f.DefValue != "" && f.DefValue != "false" {
					def = fmt.Sprintf(" (default %s)", f.DefValue)
				}
				fmt.Fprintf(w, "  --%-14s %s%s\n", f.Name, f.Usage, def)
			})
		}
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", c.example)
	}
}

func init() {
	register(&command{
		name: "help", summary: "Show the commands, or one command's usage", usage: "[COMMAND]",
		example: "  hotline help send",
		run: func(ctx context.Context, env *Env, args []string) error {
			if len(args) == 0 {
				printHelp(env.Stdout)
				return nil
			}
			name := strings.Join(args, " ")
			c := lookup(name)
			if c == nil {
				if group := subcommands(name); len(group) > 0 {
					for _, s := range group {
						sub := lookup(name + " " + s)
						fmt.Fprintf(env.Stdout, "  hotline %-18s %s\n", sub.name, sub.summary)
					}
					return nil
				}
				return hotline.Errorf(hotline.EINVALID, "no command %q%s", name, suggest(name))
			}
			if c.name == "help" {
				printCommandHelp(env.Stdout, c, nil)
				return nil
			}
			// Run the command with -h to learn its flags.
			var help helpRequest
			if err := c.run(ctx, env, []string{"-h"}); !errors.As(err, &help) {
				printCommandHelp(env.Stdout, c, nil) // a command without flags
				return nil
			}
			printCommandHelp(env.Stdout, c, help.fs)
			return nil
		},
	})
	register(&command{
		name: "version", summary: "Print the version", usage: "",
		run: func(ctx context.Context, env *Env, args []string) error {
			if _, err := parseArgs(newFlags("version", env), args, 0, 0); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, "hotline", version())
			return nil
		},
	})
}
