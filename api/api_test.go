package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWriteJSON_EncodeFailureIsA500: an answer that cannot be encoded (a
// time past year 9999, say) is never sent as a 200 with a broken body:
// nothing is written, and the error becomes a 500 with an error body.
func TestWriteJSON_EncodeFailureIsA500(t *testing.T) {
	rec := httptest.NewRecorder()
	err := writeJSON(rec, http.StatusOK, map[string]any{"time": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil {
		t.Fatal("a time in year 10000 encoded")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Fatalf("something was written before the encoding failed: %q", rec.Body.String())
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.error(rec, httptest.NewRequest(http.MethodGet, "/api/v1/channels/x/entries", nil), err)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code": "internal"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
