package redisstore_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkAppendAudit measures one audit append (one script: XADD and
// XTRIM), alone and from 16 requesters per CPU.
func BenchmarkAppendAudit(b *testing.B) {
	url := redistest.URL(b)
	for _, par := range []int{0, 16} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			prefix := redistest.Prefix(b)
			s, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				s.Close()
				deletePrefix(b, url, prefix)
			})
			ctx := b.Context()
			entry := func(i int) cache.AuditEntry {
				now := time.Now().UTC()
				return cache.AuditEntry{Time: now, RequestID: "5c1f0e2a00000001", IdP: "entra", Operation: "deactivate", Kind: cache.KindUser,
					ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Name: fmt.Sprintf("user%d@example.com", i), Outcome: cache.AuditOK,
					Calls: []cache.AuditCall{{At: now, Op: "update user", Method: "PUT", Status: 200}, {At: now, Op: "get user", Method: "GET", Status: 200}}}
			}
			b.ReportAllocs()
			if par == 0 {
				i := 0
				for b.Loop() {
					if err := s.AppendAudit(ctx, entry(i)); err != nil {
						b.Fatal(err)
					}
					i++
				}
				return
			}
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if err := s.AppendAudit(ctx, entry(i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
