package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/account"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/server"
)

// Commands that manage the operators who log in to the console. They open
// the node's store directly, so they work whether the node runs or not.

func init() {
	register(&command{
		name: "operator disable", summary: "Disable an operator: its console logins, sessions and API tokens stop working at once",
		usage: "--dir DIR NAME", example: "  hotline operator disable --dir /srv/hotline duty-officer-2",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "operator disable", args, 1, 1, func(st server.Store, pos []string) error {
				if err := st.SetOperatorDisabled(ctx, pos[0], true); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "disabled operator %s: its sessions and tokens no longer work (hotline operator enable undoes it)\n", pos[0])
				return nil
			})
		},
	})
	register(&command{
		name: "operator enable", summary: "Enable an operator disabled before",
		usage: "--dir DIR NAME", example: "  hotline operator enable --dir /srv/hotline duty-officer-2",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "operator enable", args, 1, 1, func(st server.Store, pos []string) error {
				if err := st.SetOperatorDisabled(ctx, pos[0], false); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "enabled operator %s\n", pos[0])
				return nil
			})
		},
	})
	register(&command{
		name: "operator remove", summary: "Remove an operator's login and API tokens; entries it wrote keep its name",
		usage: "--dir DIR NAME", example: "  hotline operator remove --dir /srv/hotline duty-officer-2",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "operator remove", args, 1, 1, func(st server.Store, pos []string) error {
				if err := st.RemoveOperator(ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "removed operator %s: its sessions and tokens no longer work\n", pos[0])
				return nil
			})
		},
	})
	register(&command{
		name: "token list", summary: "List API tokens: id, operator, when issued (never the token itself)",
		usage: "--dir DIR", example: "  hotline token list --dir /srv/hotline",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "token list", args, 0, 0, func(st server.Store, _ []string) error {
				tokens, err := st.OperatorTokens(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tOPERATOR\tISSUED")
				for _, t := range tokens {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Operator, t.Created.Format("2006-01-02 15:04:05 UTC"))
				}
				return tw.Flush()
			})
		},
	})
	register(&command{
		name: "token revoke", summary: "Revoke an API token by its id (or 4+ of its first hex digits): it stops working at once",
		usage: "--dir DIR ID", example: "  hotline token revoke --dir /srv/hotline 3f2a9c0e",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "token revoke", args, 1, 1, func(st server.Store, pos []string) error {
				t, err := st.RevokeOperatorToken(ctx, pos[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "revoked token %s of operator %s\n", t.ID, t.Operator)
				return nil
			})
		},
	})
	register(&command{
		name: "operator add", summary: "Create a console login for an operator (asks for the password; --totp adds a second factor)",
		usage:   "--dir DIR NAME [--lang TAG] [--totp] [--password-file FILE]",
		example: "  hotline operator add --dir /srv/hotline duty-officer-2 --lang zh --totp",
		run: func(ctx context.Context, env *Env, args []string) error {
			return setOperator(ctx, env, "operator add", args, true)
		},
	})
	register(&command{
		name: "operator passwd", summary: "Set an operator's password, unlock the account, and optionally (re)set or remove its second factor",
		usage:   "--dir DIR NAME [--totp | --no-totp] [--password-file FILE]",
		example: "  hotline operator passwd --dir /srv/hotline duty-officer-2",
		run: func(ctx context.Context, env *Env, args []string) error {
			return setOperator(ctx, env, "operator passwd", args, false)
		},
	})
	register(&command{
		name: "operator list", summary: "List the operators with a console login: language, second factor, lock-out state",
		usage: "--dir DIR", example: "  hotline operator list --dir /srv/hotline",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("operator list", env)
			d, _, err := dirFlag(fs, env).open(args, 0, 0)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(ctx, d)
			if err != nil {
				return err
			}
			defer st.Close()
			ops, err := st.Operators(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "OPERATOR\tLANGUAGE\tLOGIN\tSECOND FACTOR\tSTATE")
			for _, op := range ops {
				lang, login, totp, state := op.Lang, "no", "no", "ok"
				if lang == "" {
					lang = "channel default"
				}
				if op.Password != "" {
					login = "password"
				}
				if op.TOTP != "" {
					totp = "TOTP"
				}
				switch {
				case op.Failures == 1:
					state = "1 failed attempt"
				case op.Failures > 1:
					state = fmt.Sprintf("%d failed attempts", op.Failures)
				}
				if op.Disabled {
					state = "DISABLED"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", op.Name, lang, login, totp, state)
			}
			return tw.Flush()
		},
	})
}

// withStore opens the node directory of a node command and its store.
func withStore(ctx context.Context, env *Env, name string, args []string, lo, hi int, f func(st server.Store, pos []string) error) error {
	fs := newFlags(name, env)
	d, pos, err := dirFlag(fs, env).open(args, lo, hi)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st, pos)
}

func setOperator(ctx context.Context, env *Env, name string, args []string, create bool) error {
	fs := newFlags(name, env)
	dir := dirFlag(fs, env)
	totp := fs.Bool("totp", false, "set up a TOTP second factor (prints the secret and its otpauth URI once)")
	noTOTP := fs.Bool("no-totp", false, "remove the second factor")
	lang := fs.String("lang", "", "the language the operator reads in (default: each channel's)")
	pwFile := fs.String("password-file", "", "read the password from this file instead of asking")
	d, pos, err := dir.open(args, 1, 1)
	if err != nil {
		return err
	}
	if create && *noTOTP {
		return usagef("--no-totp is for operator passwd")
	}
	if *totp && *noTOTP {
		return usagef("give --totp or --no-totp, not both")
	}
	if err := entry.CheckName("operator", pos[0]); err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	if err := entry.CheckLang(langAlias(*lang), false); err != nil {
		return hotline.Errorf(hotline.EINVALID, "--lang: %v", err)
	}
	st, err := server.OpenStore(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	op, err := st.Operator(ctx, pos[0])
	switch {
	case err == nil && create && op.Password != "":
		return hotline.Errorf(hotline.ECONFLICT, "operator %s already has a login: use hotline operator passwd", pos[0])
	case hotline.ErrorCode(err) == hotline.ENOTFOUND && !create:
		return hotline.Errorf(hotline.ENOTFOUND, "no operator %s: create it with hotline operator add", pos[0])
	case err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND:
		return err
	}
	password, err := readPassword(env, *pwFile)
	if err != nil {
		return err
	}
	if op.Password, err = account.HashPassword(password); err != nil {
		return err
	}
	// A new password ends the operator's console sessions everywhere.
	op.Name, op.Failures, op.LockedUntil, op.SessionEpoch = pos[0], 0, time.Time{}, op.SessionEpoch+1
	if *lang != "" {
		op.Lang = langAlias(*lang)
	}
	if *noTOTP {
		op.TOTP, op.TOTPStep = "", 0
	}
	if *totp {
		op.TOTP, op.TOTPStep = account.NewTOTPSecret(), 0 // a new secret starts its own count
	}
	if err := st.PutOperator(ctx, op); err != nil {
		return err
	}
	verb := "set the password of"
	if create {
		verb = "created the console login of"
	}
	fmt.Fprintf(env.Stdout, "%s operator %s on %s\n", verb, op.Name, d.Config.Party)
	if *totp {
		fmt.Fprintf(env.Stdout, "second factor: add this to an authenticator app (shown once)\n  secret %s\n  %s\n", op.TOTP, account.TOTPURI("hotline "+d.Config.Party, op.Name, op.TOTP))
	}
	return nil
}

// readPassword reads a password from a file, from the terminal without
// echo (asked twice), or as one line of standard input.
func readPassword(env *Env, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", hotline.Errorf(hotline.ENOTFOUND, "--password-file: %v", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "Password (at least %d characters): ", account.MinPasswordLen)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.Stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", hotline.Errorf(hotline.EINVALID, "the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", hotline.Errorf(hotline.EINVALID, "no password on standard input: pipe one in, or use --password-file")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
