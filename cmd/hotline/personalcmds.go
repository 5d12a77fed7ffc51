package main

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/release"
	"github.com/hotline-project/hotline/server"
	"github.com/hotline-project/hotline/sshagent"
)

func init() {
	register(&command{
		name: "draft list", summary: "List drafts awaiting release (or in another state), oldest first, with their age",
		usage:   "[--state awaiting|released|returned|withdrawn] [--api URL] --token TOKEN [--json]",
		example: "  hotline draft list",
		run:     runDraftList,
	})
	register(&command{
		name: "draft release", summary: "Release a draft with your personal key: it is sent once enough operators other than its drafter have",
		usage: "ID (--key FILE | --agent-key SHA256:FP) [--api URL] --token TOKEN",
		example: "  hotline draft release 3f2a… --key ~/.ssh/id_ed25519\n" +
			"  hotline draft release 3f2a… --agent-key SHA256:Qx…   (the key in your ssh-agent)",
		run: runDraftRelease,
	})
	register(&command{
		name: "draft return", summary: "Send a draft back to its drafter, with a comment; it is not sent",
		usage:   "ID --comment TEXT [--api URL] --token TOKEN",
		example: "  hotline draft return 3f2a… --comment \"Soften the second sentence.\"",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("draft return", env)
			api := apiFlags(fs, env)
			comment := fs.String("comment", "", "why it goes back (required)")
			c, pos, err := api.parse(args, 1, 1)
			if err != nil {
				return err
			}
			d, err := c.ReturnDraft(ctx, pos[0], *comment)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Draft %s returned to %s.\n", d.ID, d.Drafter)
			return nil
		},
	})
	register(&command{
		name: "draft withdraw", summary: "Withdraw your own draft; it is not sent",
		usage: "ID [--api URL] --token TOKEN", example: "  hotline draft withdraw 3f2a…",
		run: func(ctx context.Context, env *Env, args []string) error {
			c, pos, err := apiFlags(newFlags("draft withdraw", env), env).parse(args, 1, 1)
			if err != nil {
				return err
			}
			d, err := c.WithdrawDraft(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Draft %s withdrawn.\n", d.ID)
			return nil
		},
	})
	register(&command{
		name: "operator key add", summary: "Register an operator's personal Ed25519 key (an OpenSSH public key file), for releasing messages from the CLI",
		usage: "--dir DIR NAME KEYFILE.pub [--label LABEL]",
		example: "  hotline operator key add --dir /srv/hotline chief ~/.ssh/id_ed25519.pub --label laptop\n" +
			"  (passkeys are registered by the operator in the console: Your passkeys, on the watch page)",
		run: runOperatorKeyAdd,
	})
	register(&command{
		name: "operator key list", summary: "List operators' roles and personal keys, removed ones included",
		usage: "--dir DIR", example: "  hotline operator key list --dir /srv/hotline",
		run: runOperatorKeyList,
	})
	register(&command{
		name: "operator key remove", summary: "Remove an operator's personal key: it releases nothing more, and what it signed stays checkable",
		usage: "--dir DIR NAME N", example: "  hotline operator key remove --dir /srv/hotline chief 1   (N as operator key list numbers them)",
		run: runOperatorKeyRemove,
	})
	register(&command{
		name: "operator role", summary: "Set the role an operator has in the party's roster (\"duty director\")",
		usage: "--dir DIR NAME ROLE", example: "  hotline operator role --dir /srv/hotline chief \"duty director\"",
		run: func(ctx context.Context, env *Env, args []string) error {
			return withStore(ctx, env, "operator role", args, 2, 2, func(st server.Store, pos []string) error {
				op, err := st.Operator(ctx, pos[0])
				if err != nil {
					return err
				}
				if len(pos[1]) > 4*entry.MaxNameBytes {
					return hotline.Errorf(hotline.EINVALID, "a role is at most %d bytes", 4*entry.MaxNameBytes)
				}
				op.Role = pos[1]
				if err := st.PutOperator(ctx, op); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s's role is now %q; the next roster the party publishes shows it.\n", op.Name, op.Role)
				return nil
			})
		},
	})
}

func runOperatorKeyAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("operator key add", env)
	dir := dirFlag(fs, env)
	label := fs.String("label", "", "what the key is (laptop, token), for the list")
	d, pos, err := dir.open(args, 2, 2)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[1])
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "read %s: %v", pos[1], err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%s is not an OpenSSH public key: %v", pos[1], err)
	}
	cpk, ok := pk.(ssh.CryptoPublicKey)
	pub, isEd := ed25519.PublicKey(nil), false
	if ok {
		pub, isEd = cpk.CryptoPublicKey().(ed25519.PublicKey)
	}
	if !isEd {
		return hotline.Errorf(hotline.EINVALID, "%s is a %s key: personal keys are Ed25519 (ssh-keygen -t ed25519)", pos[1], pk.Type())
	}
	st, err := server.OpenStore(ctx, d)
	if err != nil {
		return err
	}
	defer st.Close()
	op, err := st.Operator(ctx, pos[0])
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		// An operator known by an API token alone gets an account, with
		// no console login, to hold the key.
		if err := entry.CheckName("operator", pos[0]); err != nil {
			return hotline.Errorf(hotline.EINVALID, "%v", err)
		}
		op, err = hotline.Operator{Name: pos[0]}, nil
	}
	if err != nil {
		return err
	}
	k := entry.PersonalKey{Type: entry.KeyEd25519, Public: pub}
	for _, have := range op.Keys {
		if have.Key.Equal(&k) {
			return hotline.Errorf(hotline.ECONFLICT, "%s already has this key", op.Name)
		}
	}
	op.Keys = append(op.Keys, hotline.OperatorKey{Key: k, Label: *label, Added: time.Now().UTC()})
	if err := st.PutOperator(ctx, op); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Registered %s's personal key %s. It is published in the party's roster of a channel before the first message it releases there.\n", op.Name, ssh.FingerprintSHA256(pk))
	return nil
}

func runOperatorKeyList(ctx context.Context, env *Env, args []string) error {
	return withStore(ctx, env, "operator key list", args, 0, 0, func(st server.Store, _ []string) error {
		ops, err := st.Operators(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OPERATOR\tROLE\tN\tKEY\tLABEL\tADDED\tREMOVED")
		for _, op := range ops {
			if len(op.Keys) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t\t(no personal key)\t\t\t\n", op.Name, op.Role)
			}
			for i, k := range op.Keys {
				removed := ""
				if !k.Removed.IsZero() {
					removed = k.Removed.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", op.Name, op.Role, i+1, personalKeyName(&k.Key), k.Label, k.Added.UTC().Format(time.RFC3339), removed)
			}
		}
		return tw.Flush()
	})
}

// personalKeyName says what a personal key is, in one word and a
// fingerprint.
func personalKeyName(k *entry.PersonalKey) string {
	if k.Type == entry.KeyEd25519 {
		if pk, err := ssh.NewPublicKey(ed25519.PublicKey(k.Public)); err == nil {
			return "ed25519 " + ssh.FingerprintSHA256(pk)
		}
	}
	return fmt.Sprintf("passkey for %s (credential %x…)", k.RPID, k.ID[:min(len(k.ID), 6)])
}

func runOperatorKeyRemove(ctx context.Context, env *Env, args []string) error {
	return withStore(ctx, env, "operator key remove", args, 2, 2, func(st server.Store, pos []string) error {
		op, err := st.Operator(ctx, pos[0])
		if err != nil {
			return err
		}
		i, err := strconv.Atoi(pos[1])
		if err != nil || i < 1 || i > len(op.Keys) {
			return hotline.Errorf(hotline.EINVALID, "key %q: give its number, 1 to %d (hotline operator key list)", pos[1], len(op.Keys))
		}
		if !op.Keys[i-1].Removed.IsZero() {
			return hotline.Errorf(hotline.ECONFLICT, "%s's key %d was removed already", op.Name, i)
		}
		op.Keys[i-1].Removed = time.Now().UTC()
		if err := st.PutOperator(ctx, op); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Removed %s's key %d (%s): it releases nothing from now on; the next roster shows when it ended.\n", op.Name, i, strings.TrimSpace(personalKeyName(&op.Keys[i-1].Key)))
		return nil
	})
}

func runDraftList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("draft list", env)
	api := apiFlags(fs, env)
	state := fs.String("state", "", "awaiting (the default), released, returned or withdrawn")
	asJSON := fs.Bool("json", false, "print the drafts as JSON")
	c, _, err := api.parse(args, 0, 0)
	if err != nil {
		return err
	}
	ds, err := c.Drafts(ctx, *state)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, ds)
	}
	if len(ds) == 0 {
		fmt.Fprintln(env.Stdout, "No drafts.")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCHANNEL\tDRAFTER\tAGE\tRELEASED\tSTATE\tTEXT")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d of %d (%s)\t%s\t%s%s\n", d.ID, d.ChannelName, d.Drafter, (time.Duration(d.AgeSeconds) * time.Second).String(),
			len(d.Releasers), d.Required, strings.Join(d.Releasers, ", "), d.State, precedenceMark(d.Precedence), oneLine(d.Text, 50))
	}
	return tw.Flush()
}

func runDraftRelease(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("draft release", env)
	api := apiFlags(fs, env)
	keyFile := fs.String("key", "", "your personal key: an unencrypted OpenSSH Ed25519 private key file")
	agentKey := fs.String("agent-key", "", "your personal key in your ssh-agent (SSH_AUTH_SOCK), by fingerprint")
	c, pos, err := api.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if (*keyFile == "") == (*agentKey == "") {
		return usagef("give your personal key: --key FILE or --agent-key SHA256:FP")
	}
	signer, err := personalSigner(*keyFile, *agentKey)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	d, err := c.Draft(ctx, pos[0])
	if err != nil {
		return err
	}
	// What is signed is computed here, from the draft's message and
	// channel, never taken from the node as bytes to sign.
	var m entry.Message
	if err := entry.Unmarshal(d.Message, &m); err != nil {
		return fmt.Errorf("the draft's message does not decode: %v", err)
	}
	if err := m.Check(); err != nil || m.Text != d.Text {
		return fmt.Errorf("the draft's message is not what the node says it is; nothing was signed")
	}
	ch, err := entry.ParseChannelID(d.Channel)
	if err != nil {
		return err
	}
	rel, err := release.SignEd25519(signer, "", ch, &m)
	if err != nil {
		return err
	}
	out, err := c.ReleaseDraft(ctx, d.ID, apiReleaseRequest(rel))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Released draft %s in %s (%s): %q\n", out.ID, out.ChannelName, cmp.Or(out.Precedence, "routine"), oneLine(out.Text, 80))
	if out.Entry != "" {
		fmt.Fprintf(env.Stdout, "It is sent: entry %s, released by %s.\n", out.Entry, strings.Join(out.Releasers, ", "))
	} else {
		fmt.Fprintf(env.Stdout, "Released by %d of the %d operators it needs; it is sent once the others have.\n", len(out.Releasers), out.Required)
	}
	return nil
}

// personalSigner is the operator's personal key: a key file, or a key in
// the operator's ssh-agent.
func personalSigner(keyFile, agentKey string) (crypto.Signer, error) {
	if agentKey != "" {
		socket, err := sshagent.Socket("")
		if err != nil {
			return nil, err
		}
		pub, err := sshagent.Find(socket, agentKey)
		if err != nil {
			return nil, err
		}
		return sshagent.New(socket, pub)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	k, err := ssh.ParseRawPrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s is protected by a passphrase: add it to your ssh-agent (ssh-add %s) and give --agent-key", keyFile, keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", keyFile, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	}
	return nil, fmt.Errorf("%s is a %T key: personal keys are Ed25519", keyFile, k)
}

func apiReleaseRequest(r entry.Release) api.ReleaseRequest {
	return api.ReleaseRequest{Key: r.Key, Sig: r.Sig, AuthData: r.AuthData, ClientData: r.ClientData}
}
