package redisstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// FuzzDecode: whatever the stored bytes, decodeFast either declines or
// decodes exactly what encoding/json decodes.
func FuzzDecode(f *testing.F) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)
	for _, rec := range []cache.Record{
		{},
		{Kind: cache.KindUser, ID: "u1", Name: "Ada@Corp.example", ExternalID: "e\"1", Created: now, Modified: now.Add(time.Hour), Version: 7,
			Resource: json.RawMessage(`{"userName":"Ada@Corp.example","name":{"givenName":"Zoë"},"emails":[{"value":"a@b","primary":true}]}`)},
		{Kind: cache.KindGroup, ID: "g1", Name: "<Admins> & co", Deprovisioned: true, Readopted: true, Imported: true, Version: 1, Created: now.In(time.FixedZone("x", 3600))},
	} {
		b, err := encode(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"user","id":"x","resource":null,"version":1.0}`))
	f.Add([]byte(`{"Kind":"user","ID":"x","members":["a"]}`))
	f.Add([]byte(`{"id":null,"deprovisioned":null,"created":null,"version":-3}`))
	f.Add([]byte(`{"kind":"user","id":"x","readopted":null}`))
	f.Add([]byte(`{"kind":"user","id":"x","readopted":"true"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeFast(b)
		if !ok {
			return
		}
		var want cache.Record
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("decodeFast accepted %s, encoding/json: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast %#v\njson %#v", b, got, want)
		}
	})
}

// TestDecodeFastTakesEncodeOutput: the fast path is the one taken for
// what the store writes, or it would save nothing.
func TestDecodeFastTakesEncodeOutput(t *testing.T) {
	now := time.Now()
	b, err := encode(cache.Record{Kind: cache.KindUser, ID: "u1", Name: "n", ExternalID: "e", Deprovisioned: true, Readopted: true,
		Resource: json.RawMessage(`{"userName":"n"}`), Created: now, Modified: now, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := decodeFast(b)
	if !ok {
		t.Fatalf("decodeFast declined %s", b)
	}
	if !got.Deprovisioned || !got.Readopted {
		t.Errorf("decodeFast lost a flag: %#v", got)
	}
}
