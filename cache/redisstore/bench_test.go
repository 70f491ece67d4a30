package redisstore_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

const benchUsers = 10_000

func seed(b *testing.B) cache.Store {
	b.Helper()
	url, prefix := redistest.URL(b), redistest.Prefix(b)
	s, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, nil) // logs would swamp the output
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		deletePrefix(b, url, prefix)
	})
	for i := range benchUsers {
		rec := cache.Record{
			Kind:     cache.KindUser,
			ID:       fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			Name:     fmt.Sprintf("User%d@Example.com", i),
			Resource: json.RawMessage(`{"userName":"x","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true}`),
		}
		if _, err := s.Create(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkLookup measures one Lookup by name (one script call) among
// 10,000 users.
func BenchmarkLookup(b *testing.B) {
	s := seed(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, fmt.Sprintf("user%d@example.com", i%benchUsers)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLookupParallel measures Lookup throughput from 16 concurrent
// requesters per CPU, as the SCIM server issues them: ns/op is the inverse
// of the throughput.
func BenchmarkLookupParallel(b *testing.B) {
	s := seed(b)
	ctx := b.Context()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, fmt.Sprintf("user%d@example.com", i%benchUsers)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
