package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/hotline-project/hotline/api"
)

// Me returns the calling operator and their reading language.
func (c *Client) Me(ctx context.Context) (*api.MeView, error) {
	var out api.MeView
	return &out, c.do(ctx, http.MethodGet, "/api/v1/me", nil, &out)
}

// SetLang saves the calling operator's reading language ("" for each
// channel's default).
func (c *Client) SetLang(ctx context.Context, lang string) (*api.MeView, error) {
	var out api.MeView
	return &out, c.do(ctx, http.MethodPut, "/api/v1/me", api.MeView{Lang: lang}, &out)
}

// Catalogs lists the phrase catalogs the node holds.
func (c *Client) Catalogs(ctx context.Context) ([]api.CatalogView, error) {
	var out []api.CatalogView
	return out, c.do(ctx, http.MethodGet, "/api/v1/catalogs", nil, &out)
}

// Catalog returns a held catalog's canonical JSON.
func (c *Client) Catalog(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/catalogs/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// Phrases lists the phrases usable in a channel, in lang ("" for the
// operator's language).
func (c *Client) Phrases(ctx context.Context, ch, lang string) (*api.PhrasesView, error) {
	var out api.PhrasesView
	path := chPath(ch) + "/phrases"
	if lang != "" {
		path += "?" + url.Values{"lang": {lang}}.Encode()
	}
	return &out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Translate adds a translation of a message.
func (c *Client) Translate(ctx context.Context, ch, entryID string, req api.TranslationRequest) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/entries/"+url.PathEscape(entryID)+"/translations", req, &out)
}
