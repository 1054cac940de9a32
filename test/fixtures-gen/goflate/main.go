// Compresses each file named on the command line with Go's compress/flate at
// each level listed after it (name:level,level,...) and prints, per file and
// level, the SHA-256 and size of the raw deflate and of the gzip member
// (gzip.NewWriterLevel, default header) as JSON lines. Writes go in 32 KiB
// pieces, as io.Copy makes them; then Close. Run by gen.mjs.
package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func compress(in []byte, level int, gz bool) []byte {
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	if gz {
		w, err = gzip.NewWriterLevel(&out, level)
	} else {
		w, err = flate.NewWriter(&out, level)
	}
	if err != nil {
		panic(err)
	}
	for i := 0; i < len(in); i += 32768 {
		e := i + 32768
		if e > len(in) {
			e = len(in)
		}
		if _, err := w.Write(in[i:e]); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func main() {
	for _, arg := range os.Args[1:] {
		parts := strings.SplitN(arg, ":", 2)
		in, err := os.ReadFile(parts[0])
		if err != nil {
			panic(err)
		}
		for _, l := range strings.Split(parts[1], ",") {
			level, _ := strconv.Atoi(l)
			raw := compress(in, level, false)
			gz := compress(in, level, true)
			fmt.Printf("{\"file\":%q,\"level\":%d,\"raw\":%q,\"rawLength\":%d,\"gzip\":%q,\"gzipLength\":%d}\n",
				parts[0], level, digest(raw), len(raw), digest(gz), len(gz))
		}
	}
}
