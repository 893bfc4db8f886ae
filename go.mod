module github.com/safemap-go/safemap

go 1.24

require github.com/anishathalye/porcupine v1.3.1

require github.com/puzpuzpuz/xsync/v4 v4.5.0
