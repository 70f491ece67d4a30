package main

import (
	"crypto/sha256"
	"io"
	"os"
)

// fileStamp tells two versions of a file apart, for the files serve
// re-reads while running (the TLS pair, SCIM_BRIDGE_TOKENS_FILE). It holds
// every sign of a change: the file's identity (a rename over it, a
// Kubernetes Secret's symlink swap), its size, its modification time, and
// a digest of its content (a rewrite in place within the modification
// time's resolution, or under a preserved one). The zero value is the
// stamp of no file: it equals no file's stamp.
type fileStamp struct {
	info   os.FileInfo
	digest [sha256.Size]byte
}

// readStamped reads the file at path, following symbolic links, and
// returns its content with its stamp, both from the one open file.
func readStamped(path string) ([]byte, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fileStamp{}, err
	}
	return data, fileStamp{info: info, digest: sha256.Sum256(data)}, nil
}

// same reports whether a and b stamp the same, unchanged file.
func (a fileStamp) same(b fileStamp) bool {
	return a.info != nil && b.info != nil && os.SameFile(a.info, b.info) &&
		a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime()) &&
		a.digest == b.digest
}
