package cache

import (
	"cmp"
	"slices"
)

// Found is a record a backend's Find read through an index, with its
// creation sequence (a counter in bbolt, a sorted-set score in Redis).
type Found[S cmp.Ordered] struct {
	Seq S
	Rec Record
}

// InFindOrder returns the records of all in Find's order: by creation
// sequence, ties by id. Every backend's Find ends with it, so the order
// is one rule.
func InFindOrder[S cmp.Ordered](all []Found[S]) []Record {
	slices.SortFunc(all, func(a, b Found[S]) int {
		if c := cmp.Compare(a.Seq, b.Seq); c != 0 {
			return c
		}
		return cmp.Compare(a.Rec.ID, b.Rec.ID)
	})
	out := make([]Record, len(all))
	for i, f := range all {
		out[i] = f.Rec
	}
	return out
}
