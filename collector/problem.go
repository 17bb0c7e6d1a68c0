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

// writeJSON answers v as JSON and returns the length of the body.
func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "encode answer: "+err.Error(), 0)
		return 0
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	n, _ := w.Write(append(b, '\n'))
	return n
}
