package collector

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem+json answer. Line, when set, is the 1-based number of the NDJSON line
// that made an ingest request fail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Line   int    `json:"line,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, detail string, line int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Line: line,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
