package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// etagOf is a component's strong ETag: its version, quoted.
func etagOf(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatches answers whether an If-Match header names the current ETag, by strong comparison
// (RFC 9110 13.1.1: a weak W/"..." tag never matches); "*" matches any current representation.
func ifMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || p == etag {
			return true
		}
	}
	return false
}

// preconditionFailed answers 412 for an If-Match that names another version than the current one.
func preconditionFailed(what, ifMatch, etag string) *Problem {
	return &Problem{
		Type: typePreconditionFailed, Status: http.StatusPreconditionFailed,
		Detail: fmt.Sprintf("%s changed: If-Match %s does not match its ETag %s; GET it again and retry", what, ifMatch, etag),
		Errors: []FieldError{{Field: "If-Match", Reason: "does not match the current ETag " + etag}},
	}
}
