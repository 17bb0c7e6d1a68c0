package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rainflow/rainflow/store"
)

// writeJSON answers v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is one page of a collection.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// writeList answers one page, with a Link rel="next" header when there is a next page.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	if next != "" {
		q := r.URL.Query()
		q.Set("cursor", next)
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
	}
	writeJSON(w, http.StatusOK, list[T]{Items: items, NextCursor: next})
}

// serveList answers one page of a list: the page the query asks for (pageOf), read by fetch and each
// item shown by view.
func serveList[M, V any](w http.ResponseWriter, r *http.Request, fetch func(store.Page) ([]M, string, error), view func(M) V) error {
	page, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := fetch(page)
	if err != nil {
		return listError(err)
	}
	views := make([]V, len(items))
	for i, m := range items {
		views[i] = view(m)
	}
	writeList(w, r, views, next)
	return nil
}

// pageOf reads the limit and cursor query parameters.
func pageOf(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	page := store.Page{Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			return store.Page{}, badRequest("limit", fmt.Sprintf("%q is not an integer between 1 and %d", s, store.MaxPageLimit))
		}
		page.Limit = n
	}
	return page, nil
}

// listError answers the error of a store list: a bad cursor is the client's.
func listError(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return badRequest("cursor", "is not a cursor this API answered; start again without one")
	}
	return err
}
