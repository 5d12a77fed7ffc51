package escalation

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// STARTTLS policies of a Mailer.
const (
	StartTLSAuto     = "auto"     // use STARTTLS when the server offers it
	StartTLSRequired = "required" // refuse to send without it
	StartTLSNever    = "never"    // never (a relay on loopback)
)

// Mailer sends e-mail through one SMTP server.
type Mailer struct {
	Addr     string // host:port
	From     string
	Username string // with Password: PLAIN authentication, only over TLS or to loopback
	Password string
	StartTLS string // StartTLSAuto when empty
	Timeout  time.Duration
	Retry    Retry
}

// Send sends a plain-text UTF-8 message, retrying transient failures.
// messageID is used as the Message-ID, the same on every retry.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body, messageID string) error {
	msg := m.compose(to, subject, body, messageID)
	return m.Retry.do(ctx, func(ctx context.Context) (bool, error) {
		err := m.send(ctx, to, msg)
		var tp *textproto.Error
		if errors.As(err, &tp) && tp.Code >= 500 {
			return true, fmt.Errorf("smtp %s refused the message: %w", m.Addr, err)
		}
		if err != nil {
			return false, fmt.Errorf("smtp %s: %w", m.Addr, err)
		}
		return false, nil
	})
}

func (m *Mailer) compose(to []string, subject, body, messageID string) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.From)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	h("Message-ID", "<"+messageID+">")
	h("MIME-Version", "1.0")
	h("Content-Type", `text/plain; charset="utf-8"`)
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

func (m *Mailer) send(ctx context.Context, to []string, msg []byte) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("hotline"); err != nil {
		return err
	}
	switch ok, _ := c.Extension("STARTTLS"); {
	case m.StartTLS == StartTLSNever:
	case ok:
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	case m.StartTLS == StartTLSRequired:
		return fmt.Errorf("server does not offer STARTTLS, which [smtp] starttls = %q requires", StartTLSRequired)
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
